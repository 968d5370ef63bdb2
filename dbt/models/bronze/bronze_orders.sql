-- Each order's current attributes, the customer who placed it and the product.
with placed_by as (
    select
        l.order_hk,
        c.customer_id
    from {{ source('vault', 'LINK_CUSTOMER_ORDER') }} as l
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as c on l.customer_hk = c.customer_hk
    qualify row_number() over (partition by l.order_hk order by l.load_ts desc) = 1
),

ordered as (
    select
        l.order_hk,
        p.product_id
    from {{ source('vault', 'LINK_ORDER_PRODUCT') }} as l
    inner join {{ source('vault', 'HUB_PRODUCT') }} as p on l.product_hk = p.product_hk
    qualify row_number() over (partition by l.order_hk order by l.load_ts desc) = 1
)

select
    h.order_hk,
    h.order_id,
    placed_by.customer_id,
    ordered.product_id,
    s.quantity,
    s.unit_price,
    s.currency,
    s.order_status,
    s.channel,
    s.ordered_at,
    s.updated_at,
    s.record_source,
    s.load_ts
from {{ source('vault', 'HUB_ORDER') }} as h
inner join {{ source('vault', 'SAT_ORDER_CURRENT') }} as s on h.order_hk = s.order_hk and s.is_current
left join placed_by on h.order_hk = placed_by.order_hk
left join ordered on h.order_hk = ordered.order_hk
