{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='opportunity_hk') }}
-- The sales pipeline per client, value sets upper-case, probability as a fraction too.
-- Incremental from the vault's new satellite and link rows (macros/bronze_current.sql).
with current_opportunities as (
    {{ bronze_current(
        'HUB_OPPORTUNITY', 'opportunity_hk', 'opportunity_id', 'SAT_OPPORTUNITY',
        ['opportunity_name', 'stage', 'amount', 'currency', 'probability_pct', 'expected_close_date', 'updated_at'],
        [{'link': 'LINK_CUSTOMER_OPPORTUNITY', 'hub': 'HUB_CUSTOMER', 'hub_key': 'customer_hk',
          'business_key': 'customer_id'}]
    ) | indent(4) }}
)

select
    opportunity_hk,
    opportunity_id,
    customer_id,
    trim(opportunity_name) as opportunity_name,
    {{ standardised('stage', 'opportunity_stages') }} as stage,
    amount,
    {{ standardised_code('currency', 'ref_currencies', 'currency_code') }} as currency,
    probability_pct,
    amount * probability_pct / 100 as weighted_amount,
    expected_close_date,
    updated_at,
    load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from current_opportunities
