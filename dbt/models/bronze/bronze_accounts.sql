-- Each account's current attributes and its holder (the latest customer link).
with holder as (
    select
        l.account_hk,
        c.customer_id
    from {{ source('vault', 'LINK_CUSTOMER_ACCOUNT') }} as l
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as c on l.customer_hk = c.customer_hk
    qualify row_number() over (partition by l.account_hk order by l.load_ts desc) = 1
)

select
    h.account_hk,
    h.account_id,
    holder.customer_id,
    s.account_number,
    s.account_type,
    s.currency,
    s.balance,
    s.status,
    s.opened_at,
    s.updated_at,
    s.record_source,
    s.load_ts
from {{ source('vault', 'HUB_ACCOUNT') }} as h
inner join {{ source('vault', 'SAT_ACCOUNT_CURRENT') }} as s on h.account_hk = s.account_hk and s.is_current
left join holder on h.account_hk = holder.account_hk
