{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='customer_hk') }}
-- Each customer as of the latest snapshot: the point-in-time table's row for it names the
-- rows in effect of the descriptive and the personal satellite, the hub gives the business
-- key. Incremental: the customers with a row in effect loaded since the last run (the vault
-- is insert-only, so no other customer changed; an erasure rebuilds this model).
with latest_snapshot as (
    select
        p.customer_hk,
        p.sat_customer_load_ts,
        p.sat_customer_pii_load_ts
    from {{ ref('pit_customer') }} as p
    where
        p.snapshot_date = (
            select d.snapshot_date from {{ ref('as_of_dates') }} as d
            where d.is_latest
        )
        {% if is_incremental() -%}
            and greatest(p.sat_customer_load_ts, coalesce(p.sat_customer_pii_load_ts, p.sat_customer_load_ts))
            > (select max(existing.load_ts) from {{ this }} as existing)
        {%- endif %}
)

select
    h.customer_hk,
    h.customer_id,
    s.legal_name,
    pii.first_name,
    pii.last_name,
    pii.email,
    pii.phone,
    pii.date_of_birth,
    pii.tax_id,
    pii.address_line,
    s.city,
    pii.postal_code,
    s.domicile_country,
    s.client_segment,
    s.lifecycle_stage,
    s.risk_rating,
    s.kyc_status,
    s.onboarded_at,
    s.updated_at,
    s.record_source,
    greatest(s.load_ts, coalesce(pii.load_ts, s.load_ts)) as load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from latest_snapshot as p
inner join {{ source('vault', 'HUB_CUSTOMER') }} as h on p.customer_hk = h.customer_hk
inner join {{ source('vault', 'SAT_CUSTOMER_CURRENT') }} as s
    on p.customer_hk = s.customer_hk and p.sat_customer_load_ts = s.load_ts
left join {{ source('vault', 'SAT_CUSTOMER_PII') }} as pii
    on p.customer_hk = pii.customer_hk and p.sat_customer_pii_load_ts = pii.load_ts
