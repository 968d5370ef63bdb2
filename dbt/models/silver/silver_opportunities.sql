-- The sales pipeline per client, value sets upper-case, probability as a fraction too.
with client as (
    select
        l.opportunity_hk,
        c.customer_id
    from {{ source('vault', 'LINK_CUSTOMER_OPPORTUNITY') }} as l
    inner join {{ source('vault', 'HUB_CUSTOMER') }} as c on l.customer_hk = c.customer_hk
    qualify row_number() over (partition by l.opportunity_hk order by l.load_ts desc) = 1
)

select
    h.opportunity_hk,
    h.opportunity_id,
    client.customer_id,
    trim(s.opportunity_name) as opportunity_name,
    {{ standardised('s.stage', 'opportunity_stages') }} as stage,
    s.amount,
    {{ standardised('s.currency', 'currencies') }} as currency,
    s.probability_pct,
    s.amount * s.probability_pct / 100 as weighted_amount,
    s.expected_close_date,
    s.updated_at,
    s.load_ts
from {{ source('vault', 'HUB_OPPORTUNITY') }} as h
inner join {{ source('vault', 'SAT_OPPORTUNITY_CURRENT') }} as s
    on h.opportunity_hk = s.opportunity_hk and s.is_current
left join client on h.opportunity_hk = client.opportunity_hk
