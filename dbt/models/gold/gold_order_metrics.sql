-- Order performance per calendar month of the order date; values in the reporting currency
-- (each order converted at its order date's fixing, silver_orders). Orders for a product the
-- catalogue has withdrawn (missing from the latest complete snapshot: status tracking)
-- are counted in the totals and flagged in their own columns.
with withdrawn as (
    select h.product_id
    from {{ source('vault', 'STS_PRODUCT_CURRENT') }} as t
    inner join {{ source('vault', 'HUB_PRODUCT') }} as h on t.product_hk = h.product_hk
    where t.is_deleted
),

orders as (
    select
        o.order_date,
        o.order_status,
        o.order_value_reporting,
        o.order_value is not null and o.order_value_reporting is null as is_unrated,
        w.product_id is not null as is_product_withdrawn,
        case when w.product_id is not null then o.order_value_reporting end as withdrawn_value_reporting
    from {{ ref('silver_orders') }} as o
    left join withdrawn as w on o.product_id = w.product_id
    where o.order_date is not null
)

select
    year(order_date) as order_year,
    month(order_date) as order_month,
    count(*) as order_count,
    count_if(order_status = 'FULFILLED') as fulfilled_count,
    count_if(order_status = 'CANCELLED') as cancelled_count,
    cast(round(div0(100 * count_if(order_status = 'FULFILLED'), count(*)), 2) as number(5, 2)) as fulfillment_rate_pct,
    cast(round(div0(100 * count_if(order_status = 'CANCELLED'), count(*)), 2) as number(5, 2)) as cancellation_rate_pct,
    '{{ var("reporting_currency") }}' as reporting_currency,
    cast(coalesce(sum(order_value_reporting), 0) as number(38, 2)) as total_order_value_reporting,
    {{ money('div0(sum(order_value_reporting), count(order_value_reporting))', 38) }} as average_order_value_reporting,
    count_if(is_product_withdrawn) as withdrawn_product_orders,
    cast(coalesce(sum(withdrawn_value_reporting), 0) as number(38, 2)) as withdrawn_product_value_reporting,
    cast(count_if(is_unrated) as number(38, 0)) as unrated_orders
from orders
group by year(order_date), month(order_date)
