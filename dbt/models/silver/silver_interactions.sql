-- Client interactions with the client's business key, value sets upper-case.
with client as (
    select
        l.interaction_hk,
        c.customer_id
    from {{ source('vault', 'LINK_CUSTOMER_INTERACTION') }} as l
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as c on l.customer_hk = c.customer_hk
    qualify row_number() over (partition by l.interaction_hk order by l.load_ts desc) = 1
)

select
    h.interaction_hk,
    h.interaction_id,
    client.customer_id,
    {{ standardised('s.channel', 'interaction_channels') }} as channel,
    {{ standardised('s.interaction_type', 'interaction_types') }} as interaction_type,
    {{ standardised('s.sentiment', 'sentiments') }} as sentiment,
    s.duration_minutes,
    trim(s.relationship_manager) as relationship_manager,
    s.interaction_at,
    s.load_ts
from {{ source('vault', 'HUB_INTERACTION') }} as h
inner join {{ source('vault', 'SAT_INTERACTION_CURRENT') }} as s
    on h.interaction_hk = s.interaction_hk and s.is_current
left join client on h.interaction_hk = client.interaction_hk
