-- Aggregation accuracy, exact (money is NUMBER on both engines):
-- the months' orders, fulfilled and cancelled orders and value add
-- up to silver_orders.
with gold as (
    select
        sum(order_count) as orders,
        sum(fulfilled_count) as fulfilled,
        sum(cancelled_count) as cancelled,
        coalesce(sum(total_order_value_reporting), 0) as order_value
    from {{ ref('gold_order_metrics') }}
),

silver as (
    select
        count(*) as orders,
        count_if(order_status = 'FULFILLED') as fulfilled,
        count_if(order_status = 'CANCELLED') as cancelled,
        coalesce(sum(order_value_reporting), 0) as order_value
    from {{ ref('silver_orders') }}
    where order_date is not null
)

select
    gold.*,
    silver.orders as silver_orders
from gold cross join silver
where
    gold.orders <> silver.orders
    or gold.fulfilled <> silver.fulfilled
    or gold.cancelled <> silver.cancelled
    or gold.order_value <> silver.order_value
