{#- Per client and snapshot: the accounts held at the snapshot (the bridge's open
    relationships) and the sum of their balances then (the account point-in-time table
    names the satellite row in effect), each balance converted to the reporting currency at
    the snapshot date's fixing (silver_exchange_rates). A balance whose currency has no
    fixing by then is not added: unrated_accounts counts it, and a gold error rule reports
    the client. `snapshots`: a relation with a snapshot_date column, the snapshots to compute. -#}
{% macro holdings(snapshots) %}
    select
        b.snapshot_date,
        h.customer_id,
        count(*) as account_count,
        cast(sum(coalesce({{ in_reporting('s.balance', 'r.rate_to_reporting') }}, 0)) as number(38, 2))
            as total_balance_reporting,
        count_if(s.balance is not null and r.rate_to_reporting is null) as unrated_accounts
    from (
        select distinct
            br.snapshot_date,
            br.customer_hk,
            br.account_hk
        from {{ ref('bridge_customer_account_transaction') }} as br
        inner join {{ snapshots }} as wanted on br.snapshot_date = wanted.snapshot_date
    ) as b
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as h on b.customer_hk = h.customer_hk
    inner join {{ ref('pit_account') }} as p on b.account_hk = p.account_hk and b.snapshot_date = p.snapshot_date
    left join {{ source('vault', 'SAT_ACCOUNT') }} as s
        on p.account_hk = s.account_hk and p.sat_account_load_ts = s.load_ts
    {{ rate_join('r', 'upper(trim(s.currency))', 'b.snapshot_date') }}
    group by b.snapshot_date, h.customer_id
{% endmacro %}
