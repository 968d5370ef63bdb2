-- Aggregation accuracy, exact (money is NUMBER on both engines; reporting currency):
-- the customers' lifetime value adds up to silver's fulfilled,
-- valid orders of known customers.
with gold as (
    select coalesce(sum(lifetime_value_reporting), 0) as total from {{ ref('gold_customer_summary') }}
),

silver as (
    select coalesce(sum(o.order_value_reporting), 0) as total
    from {{ ref('silver_orders') }} as o
    inner join {{ ref('silver_customers') }} as c on o.customer_id = c.customer_id
    where o.order_status = 'FULFILLED'
)

select
    gold.total as gold_total,
    silver.total as silver_total
from gold cross join silver
where gold.total <> silver.total
