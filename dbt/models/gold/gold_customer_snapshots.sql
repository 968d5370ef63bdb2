{{ incremental_by_snapshot() }}
-- What the lake knew about each client at every retained snapshot (month-ends and the
-- last `snapshot_retention_days` days): its attributes then (the customer point-in-time
-- table names the satellite row in effect), the accounts it held then and their balances
-- (the bridge, over the effectivity satellite), in the reporting currency at the snapshot
-- date's fixing, the transactions booked on them by then,
-- and the size of its contact set then (the multi-active satellite). Incremental by
-- snapshot, like the point-in-time tables.
with snapshots as (
    {{ new_snapshots() }}
),

clients as (
    select
        p.snapshot_date,
        p.snapshot_ts,
        h.customer_id,
        {{ standardised_code('s.domicile_country', 'ref_countries', 'country_code', 'p.snapshot_date') }}
            as country_code,
        {{ standardised_code('s.client_segment', 'ref_client_segments', 'client_segment', 'p.snapshot_date') }}
            as client_segment,
        {{ standardised('s.lifecycle_stage', 'lifecycle_stages') }} as lifecycle_stage,
        {{ standardised('s.risk_rating', 'risk_ratings') }} as risk_rating,
        {{ standardised('s.kyc_status', 'kyc_statuses') }} as kyc_status,
        p.msat_customer_contact_load_ts
    from {{ ref('pit_customer') }} as p
    inner join snapshots as d on p.snapshot_date = d.snapshot_date
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as h on p.customer_hk = h.customer_hk
    inner join {{ source('vault', 'SAT_CUSTOMER') }} as s
        on p.customer_hk = s.customer_hk and p.sat_customer_load_ts = s.load_ts
),

holdings as (
    {{ holdings('snapshots') }}
),

transactions as (
    select
        b.snapshot_date,
        h.customer_id,
        count(b.transaction_hk) as transaction_count
    from {{ ref('bridge_customer_account_transaction') }} as b
    inner join snapshots as d on b.snapshot_date = d.snapshot_date
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as h on b.customer_hk = h.customer_hk
    group by b.snapshot_date, h.customer_id
),

contacts as (
    select
        h.customer_id,
        m.load_ts,
        count(*) as contact_count
    from {{ source('vault', 'MSAT_CUSTOMER_CONTACT') }} as m
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as h on m.customer_hk = h.customer_hk
    group by h.customer_id, m.load_ts
)

select
    c.snapshot_date,
    c.snapshot_ts,
    c.customer_id,
    c.country_code,
    c.client_segment,
    c.lifecycle_stage,
    c.risk_rating,
    c.kyc_status,
    coalesce(a.account_count, 0) as account_count,
    '{{ var("reporting_currency") }}' as reporting_currency,
    coalesce(a.total_balance_reporting, 0) as total_balance_reporting,
    cast(coalesce(a.unrated_accounts, 0) as number(38, 0)) as unrated_accounts,
    coalesce(t.transaction_count, 0) as transaction_count,
    coalesce(k.contact_count, 0) as contact_count,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from clients as c
left join holdings as a on c.snapshot_date = a.snapshot_date and c.customer_id = a.customer_id
left join transactions as t on c.snapshot_date = t.snapshot_date and c.customer_id = t.customer_id
left join contacts as k on c.customer_id = k.customer_id and c.msat_customer_contact_load_ts = k.load_ts
