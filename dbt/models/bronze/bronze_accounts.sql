{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='account_hk') }}
-- Each account's current satellite row and its holder from the effectivity satellite:
-- the client it belongs to now (is_held), or for a closed account the client it last
-- belonged to; incremental from the vault's new rows (macros/bronze_current.sql).
{{ bronze_current(
    'HUB_ACCOUNT', 'account_hk', 'account_id', 'SAT_ACCOUNT',
    ['account_number', 'account_type', 'currency', 'balance', 'status', 'opened_at', 'updated_at'],
    [{'link': 'LINK_CUSTOMER_ACCOUNT', 'hub': 'HUB_CUSTOMER', 'hub_key': 'customer_hk',
      'business_key': 'customer_id', 'effectivity': 'EFF_SAT_CUSTOMER_ACCOUNT', 'held': 'is_held'}]
) }}
