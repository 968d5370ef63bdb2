-- Each customer as of the latest loaded batch: the point-in-time view names the
-- satellite row in effect, the hub gives the business key.
with latest_snapshot as (
    select
        customer_hk,
        sat_customer_load_ts
    from {{ source('vault', 'PIT_CUSTOMER') }}
    qualify row_number() over (partition by customer_hk order by snapshot_ts desc) = 1
)

select
    h.customer_hk,
    h.customer_id,
    s.legal_name,
    s.first_name,
    s.last_name,
    s.email,
    s.phone,
    s.date_of_birth,
    s.tax_id,
    s.address_line,
    s.city,
    s.postal_code,
    s.domicile_country,
    s.client_segment,
    s.lifecycle_stage,
    s.risk_rating,
    s.kyc_status,
    s.onboarded_at,
    s.updated_at,
    s.record_source,
    s.load_ts
from latest_snapshot as p
inner join {{ source('vault', 'HUB_CUSTOMER') }} as h on p.customer_hk = h.customer_hk
inner join {{ source('vault', 'SAT_CUSTOMER_CURRENT') }} as s
    on p.customer_hk = s.customer_hk and p.sat_customer_load_ts = s.load_ts
