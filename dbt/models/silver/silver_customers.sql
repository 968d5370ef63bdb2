{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='customer_hk') }}
-- Customers standardised: names in title case, e-mail lower-case, age from the date of
-- birth, ISO 3166 country codes and upper-case value sets. Incremental: the customers
-- bronze changed since the last run, and those whose age has moved on since (a birthday),
-- so every age is as of the latest run.
select
    b.customer_hk,
    b.customer_id,
    trim(b.legal_name) as legal_name,
    initcap(trim(b.first_name)) as first_name,
    initcap(trim(b.last_name)) as last_name,
    initcap(trim(b.first_name)) || ' ' || initcap(trim(b.last_name)) as contact_name,
    lower(trim(b.email)) as email,
    coalesce(regexp_like(lower(trim(b.email)), '^[a-z0-9._%+-]+@[a-z0-9.-]+[.][a-z]{2,}$'), false) as is_email_valid,
    trim(b.phone) as phone,
    b.date_of_birth,
    cast({{ age_in_years('b.date_of_birth') }} as number(38, 0)) as age,
    b.tax_id,
    b.address_line,
    b.city,
    b.postal_code,
    {{ standardised_code('b.domicile_country', 'ref_countries', 'country_code') }} as country_code,
    {{ standardised_code('b.client_segment', 'ref_client_segments', 'client_segment') }} as client_segment,
    {{ standardised('b.lifecycle_stage', 'lifecycle_stages') }} as lifecycle_stage,
    {{ standardised('b.risk_rating', 'risk_ratings') }} as risk_rating,
    {{ standardised('b.kyc_status', 'kyc_statuses') }} as kyc_status,
    b.onboarded_at,
    b.updated_at,
    b.load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from {{ ref('bronze_customers') }} as b
{% if is_incremental() -%}
    where
        b.load_ts > (select max(existing.load_ts) from {{ this }} as existing)
        or b.customer_hk in (
            select existing.customer_hk
            from {{ this }} as existing
            where existing.age is distinct from {{ age_in_years('existing.date_of_birth') }}
        )
{%- endif %}
