-- Order performance per calendar month of the order date.
select
    year(order_date) as order_year,
    month(order_date) as order_month,
    count(*) as order_count,
    count_if(order_status = 'FULFILLED') as fulfilled_count,
    count_if(order_status = 'CANCELLED') as cancelled_count,
    round(100.0 * count_if(order_status = 'FULFILLED') / count(*), 2) as fulfillment_rate_pct,
    round(100.0 * count_if(order_status = 'CANCELLED') / count(*), 2) as cancellation_rate_pct,
    sum(order_value) as total_order_value,
    round(avg(order_value), 2) as average_order_value
from {{ ref('silver_orders') }}
where order_date is not null
group by year(order_date), month(order_date)
