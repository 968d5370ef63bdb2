{{ config(materialized='table') }}
-- The snapshot control table: one row per calendar day from the first loaded batch's date
-- to the last, with the vault's timeline watermark for that day (snapshot_ts: the load_ts
-- of the latest batch dated on or before it), and whether the point-in-time and bridge
-- tables keep it: every month-end (unless `snapshot_keep_month_ends` is false) and the
-- last `snapshot_retention_days` days.
-- Batch dates come from the batch ids (B20260105 is 2026-01-05), of the batches that
-- loaded rows: a batch recorded with none (a mistyped id, before LOAD_VAULT refused one)
-- never stretches the snapshots to its date.
with batches as (
    select
        b.load_ts,
        try_to_date(substr(b.batch_id, 2), 'YYYYMMDD') as batch_date
    from {{ source('vault', 'LOADED_BATCHES') }} as b
    where regexp_like(b.batch_id, '^B[0-9]{8}$') and b.landed_rows > 0
),

bounds as (
    select
        min(batch_date) as first_date,
        max(batch_date) as last_date
    from batches
),

days as (
    -- a DATE (DATEADD keeps its argument's type in Snowflake; the local engine widens it)
    select cast(dateadd('day', g.n, b.first_date) as date) as snapshot_date
    from (
        select row_number() over (order by seq4()) - 1 as n
        from table(generator(rowcount => 36600))
    ) as g
    cross join bounds as b
    where dateadd('day', g.n, b.first_date) <= b.last_date
),

watermarks as (
    select
        d.snapshot_date,
        max(b.load_ts) as snapshot_ts
    from days as d
    inner join batches as b on d.snapshot_date >= b.batch_date
    group by d.snapshot_date
)

select
    w.snapshot_date,
    w.snapshot_ts,
    w.snapshot_date = last_day(w.snapshot_date) as is_month_end,
    w.snapshot_date = b.last_date as is_latest,
    (
        ({{ var('snapshot_keep_month_ends') }} and w.snapshot_date = last_day(w.snapshot_date))
        or w.snapshot_date > dateadd('day', -{{ var('snapshot_retention_days') }}, b.last_date)
    ) as is_retained
from watermarks as w
cross join bounds as b
