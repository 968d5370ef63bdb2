-- Per customer: segment, holdings, lifetime value and its tier, lifecycle stage. Every
-- amount is in the reporting currency (reporting_currency): each balance and order value
-- converted at the fixing of its own date, then added up.
-- Holdings are as of the latest snapshot, through the bridge: the accounts the client
-- holds then (effectivity: current owner only, closed accounts excluded) and their
-- balances from the account point-in-time table, converted at the snapshot date.
-- Lifetime value is the value of the client's fulfilled orders, each converted at its
-- order date; the tier follows from it by the thresholds in dbt_project.yml (value_tiers,
-- in the reporting currency), highest first.
with snapshot as (
    select d.snapshot_date from {{ ref('as_of_dates') }} as d
    where d.is_latest
),

accounts as (
    {{ holdings('snapshot') }}
),

orders as (
    select
        o.customer_id,
        cast(sum(case when o.order_status = 'FULFILLED' then o.order_value_reporting else 0 end) as number(38, 2))
            as lifetime_value_reporting,
        count(*) as order_count,
        count_if(o.order_status = 'FULFILLED' and o.order_value is not null and o.order_value_reporting is null)
            as unrated_orders
    from {{ ref('silver_orders') }} as o
    group by o.customer_id
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
    '{{ var("reporting_currency") }}' as reporting_currency,
    coalesce(a.account_count, 0) as account_count,
    coalesce(a.total_balance_reporting, 0) as total_balance_reporting,
    coalesce(o.order_count, 0) as order_count,
    coalesce(o.lifetime_value_reporting, 0) as lifetime_value_reporting,
    {{ value_tier('coalesce(o.lifetime_value_reporting, 0)') }} as value_tier,
    cast(coalesce(a.unrated_accounts, 0) + coalesce(o.unrated_orders, 0) as number(38, 0)) as unrated_amounts
from {{ ref('silver_customers') }} as c
cross join snapshot as snap
left join accounts as a on c.customer_id = a.customer_id
left join orders as o on c.customer_id = o.customer_id
