{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_hk') }}
-- Orders with cleansed statuses and value sets (trimmed, upper-case; outside the set:
-- UNKNOWN) and their value, which is NULL (and is_valid false) when the quantity
-- is not positive or the unit price is negative. The value stays in the order's currency
-- and is also converted to the reporting currency at the fixing of the order date
-- (silver_exchange_rates). Incremental: the orders bronze changed since the last run, and
-- the orders dated on or after a fixing that arrived since.
with orders as (
    select
        b.order_hk,
        b.order_id,
        b.customer_id,
        b.product_id,
        b.quantity,
        b.unit_price,
        coalesce(b.quantity > 0 and b.unit_price >= 0, false) as is_valid,
        case when b.quantity > 0 and b.unit_price >= 0 then {{ money('b.quantity * b.unit_price') }} end as order_value,
        {{ standardised_code('b.currency', 'ref_currencies', 'currency_code') }} as currency,
        {{ standardised('b.order_status', 'order_statuses') }} as order_status,
        {{ standardised('b.channel', 'order_channels') }} as channel,
        b.ordered_at,
        cast(b.ordered_at as date) as order_date,
        b.updated_at,
        b.load_ts
    from {{ ref('bronze_orders') }} as b
    {% if is_incremental() %}
        where
            b.load_ts > (select max(existing.load_ts) from {{ this }} as existing)
            or cast(b.ordered_at as date) >= {{ first_refixed_day() }}
    {% endif %}
)

select
    o.order_hk,
    o.order_id,
    o.customer_id,
    o.product_id,
    o.quantity,
    o.unit_price,
    o.is_valid,
    o.order_value,
    o.currency,
    o.order_status,
    o.channel,
    o.ordered_at,
    o.order_date,
    o.updated_at,
    r.reporting_currency,
    {{ in_reporting('o.order_value', 'r.rate_to_reporting') }} as order_value_reporting,
    r.is_carried as is_rate_carried,
    o.load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from orders as o
{{ rate_join('r', 'o.currency', 'o.order_date') }}
