{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='opportunity_hk') }}
-- The sales pipeline per client, value sets upper-case, the amount weighted by its win
-- probability, both also in the reporting currency at the fixing of the day the opportunity
-- last changed (silver_exchange_rates).
-- Incremental from the vault's new satellite and link rows (macros/bronze_current.sql).
with current_opportunities as (
    {{ bronze_current(
        'HUB_OPPORTUNITY', 'opportunity_hk', 'opportunity_id', 'SAT_OPPORTUNITY',
        ['opportunity_name', 'stage', 'amount', 'currency', 'probability_pct', 'expected_close_date', 'updated_at'],
        [{'link': 'LINK_CUSTOMER_OPPORTUNITY', 'hub': 'HUB_CUSTOMER', 'hub_key': 'customer_hk',
          'business_key': 'customer_id'}]
    ) | indent(4) }}
),

opportunities as (
    select
        o.opportunity_hk,
        o.opportunity_id,
        o.customer_id,
        trim(o.opportunity_name) as opportunity_name,
        {{ standardised('o.stage', 'opportunity_stages') }} as stage,
        {{ money('o.amount') }} as amount,
        {{ standardised_code('o.currency', 'ref_currencies', 'currency_code') }} as currency,
        o.probability_pct,
        {{ money('o.amount * o.probability_pct / 100') }} as weighted_amount,
        o.expected_close_date,
        o.updated_at,
        o.load_ts
    from current_opportunities as o
)

select
    o.opportunity_hk,
    o.opportunity_id,
    o.customer_id,
    o.opportunity_name,
    o.stage,
    o.amount,
    o.currency,
    o.probability_pct,
    o.weighted_amount,
    o.expected_close_date,
    o.updated_at,
    r.reporting_currency,
    {{ in_reporting('o.amount', 'r.rate_to_reporting') }} as amount_reporting,
    {{ in_reporting('o.weighted_amount', 'r.rate_to_reporting') }} as weighted_amount_reporting,
    r.is_carried as is_rate_carried,
    o.load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from opportunities as o
{{ rate_join('r', 'o.currency', 'cast(o.updated_at as date)') }}
