{#- Per client and snapshot: the accounts held at the snapshot (the bridge's open
    relationships) and the sum of their balances then (the account point-in-time table
    names the satellite row in effect). `snapshots`: a relation with a snapshot_date
    column, the snapshots to compute. -#}
{% macro holdings(snapshots) %}
    select
        b.snapshot_date,
        h.customer_id,
        count(*) as account_count,
        sum(coalesce(s.balance, 0)) as total_balance
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
    group by b.snapshot_date, h.customer_id
{% endmacro %}
