{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_hk') }}
-- Orders with cleansed statuses and value sets (trimmed, upper-case; outside the set:
-- UNKNOWN) and their value, which is NULL (and is_valid false) when the quantity
-- is not positive or the unit price is negative. Incremental: the orders bronze changed
-- since the last run.
select
    order_hk,
    order_id,
    customer_id,
    product_id,
    quantity,
    unit_price,
    coalesce(quantity > 0 and unit_price >= 0, false) as is_valid,
    case when quantity > 0 and unit_price >= 0 then cast(quantity * unit_price as number(38, 2)) end as order_value,
    {{ standardised_code('currency', 'ref_currencies', 'currency_code') }} as currency,
    {{ standardised('order_status', 'order_statuses') }} as order_status,
    {{ standardised('channel', 'order_channels') }} as channel,
    ordered_at,
    cast(ordered_at as date) as order_date,
    updated_at,
    load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from {{ ref('bronze_orders') }}
{% if is_incremental() %}
    where load_ts > (select max(existing.load_ts) from {{ this }} as existing)
{% endif %}
