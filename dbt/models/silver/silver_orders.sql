-- Orders with cleansed statuses (trimmed, upper-case; anything outside the value set
-- becomes UNKNOWN) and their value.
select
    order_hk,
    order_id,
    customer_id,
    product_id,
    quantity,
    unit_price,
    quantity * unit_price as order_value,
    upper(trim(currency)) as currency,
    case
        when upper(trim(order_status)) in ({{ quoted_list(var('order_statuses')) }}) then upper(trim(order_status))
        else 'UNKNOWN'
    end as order_status,
    upper(trim(channel)) as channel,
    ordered_at,
    cast(ordered_at as date) as order_date,
    updated_at,
    load_ts
from {{ ref('bronze_orders') }}
