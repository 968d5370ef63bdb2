{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='interaction_hk') }}
-- Client interactions with the client's business key, value sets standardised.
-- Incremental from the vault's new satellite and link rows (macros/bronze_current.sql).
with current_interactions as (
    {{ bronze_current(
        'HUB_INTERACTION', 'interaction_hk', 'interaction_id', 'SAT_INTERACTION',
        ['channel', 'interaction_type', 'sentiment', 'duration_minutes', 'relationship_manager', 'interaction_at'],
        [{'link': 'LINK_CUSTOMER_INTERACTION', 'hub': 'HUB_CUSTOMER', 'hub_key': 'customer_hk',
          'business_key': 'customer_id'}]
    ) | indent(4) }}
)

select
    interaction_hk,
    interaction_id,
    customer_id,
    {{ standardised('channel', 'interaction_channels') }} as channel,
    {{ standardised('interaction_type', 'interaction_types') }} as interaction_type,
    {{ standardised('sentiment', 'sentiments') }} as sentiment,
    duration_minutes,
    trim(relationship_manager) as relationship_manager,
    interaction_at,
    load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from current_interactions
