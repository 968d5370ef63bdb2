{{ incremental_by_snapshot() }}
-- The path the gold marts walk, per retained snapshot date: each client's accounts held
-- then (the relationships the effectivity satellite had open at the snapshot, so an account
-- that moved counts for its owner at that date only, and a closed one for nobody), and the
-- transactions booked on them by then (a held account without any has one row with NULL
-- transaction keys). Incremental like the point-in-time tables.
with snapshots as (
    {{ new_snapshots() }}
),

relationships as (
    select
        d.snapshot_date,
        d.snapshot_ts,
        e.customer_account_hk,
        e.customer_hk,
        e.account_hk,
        e.end_at
    from snapshots as d
    inner join {{ source('vault', 'EFF_SAT_CUSTOMER_ACCOUNT') }} as e on d.snapshot_ts >= e.load_ts
    qualify row_number() over (partition by d.snapshot_date, e.customer_account_hk order by e.load_ts desc) = 1
)

select
    r.snapshot_date,
    r.snapshot_ts,
    r.customer_hk,
    r.customer_account_hk,
    r.account_hk,
    l.account_transaction_hk,
    l.transaction_hk,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from relationships as r
left join {{ source('vault', 'LINK_ACCOUNT_TRANSACTION') }} as l
    on r.account_hk = l.account_hk and r.snapshot_ts >= l.load_ts
where r.end_at = {{ end_of_time() }} and r.customer_hk <> '{{ var("zero_key") }}'
