-- Per customer: segment, holdings, lifetime value and its tier, lifecycle stage.
-- Holdings are as of the latest snapshot, through the bridge: the accounts the client
-- holds then (effectivity: current owner only, closed accounts excluded) and their
-- balances from the account point-in-time table. Lifetime value is the value of the
-- client's fulfilled orders; the tier follows from it by the thresholds in
-- dbt_project.yml (value_tiers), highest first.
with snapshot as (
    select d.snapshot_date from {{ ref('as_of_dates') }} as d
    where d.is_latest
),

accounts as (
    {{ holdings('snapshot') }}
),

orders as (
    select
        customer_id,
        count(*) as order_count,
        sum(case when order_status = 'FULFILLED' then order_value else 0 end) as lifetime_value
    from {{ ref('silver_orders') }}
    group by customer_id
)

select
    c.customer_id,
    snap.snapshot_date,
    c.legal_name,
    c.client_segment,
    c.country_code,
    c.risk_rating,
    c.kyc_status,
    c.lifecycle_stage,
    c.onboarded_at,
    coalesce(a.account_count, 0) as account_count,
    coalesce(a.total_balance, 0) as total_balance,
    coalesce(o.order_count, 0) as order_count,
    coalesce(o.lifetime_value, 0) as lifetime_value,
    {{ value_tier('coalesce(o.lifetime_value, 0)') }} as value_tier
from {{ ref('silver_customers') }} as c
cross join snapshot as snap
left join accounts as a on c.customer_id = a.customer_id
left join orders as o on c.customer_id = o.customer_id
