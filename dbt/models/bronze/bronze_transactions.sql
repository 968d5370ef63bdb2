-- Each transaction's current attributes and the account it is booked on.
with booked_on as (
    select
        l.transaction_hk,
        a.account_id
    from {{ source('vault', 'LINK_ACCOUNT_TRANSACTION') }} as l
    inner join {{ source('vault', 'HUB_ACCOUNT') }} as a on l.account_hk = a.account_hk
    qualify row_number() over (partition by l.transaction_hk order by l.load_ts desc) = 1
)

select
    h.transaction_hk,
    h.transaction_id,
    booked_on.account_id,
    s.transaction_type,
    s.direction,
    s.amount,
    s.currency,
    s.status,
    s.transaction_at,
    s.record_source,
    s.load_ts
from {{ source('vault', 'HUB_TRANSACTION') }} as h
inner join {{ source('vault', 'SAT_TRANSACTION_CURRENT') }} as s
    on h.transaction_hk = s.transaction_hk and s.is_current
left join booked_on on h.transaction_hk = booked_on.transaction_hk
