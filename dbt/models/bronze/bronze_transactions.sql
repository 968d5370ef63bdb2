{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='transaction_hk') }}
-- Each transaction's current satellite row and the account it is booked on (latest
-- link); incremental from the vault's new rows (macros/bronze_current.sql).
{{ bronze_current(
    'HUB_TRANSACTION', 'transaction_hk', 'transaction_id', 'SAT_TRANSACTION',
    ['transaction_type', 'direction', 'amount', 'currency', 'status', 'transaction_at'],
    [{'link': 'LINK_ACCOUNT_TRANSACTION', 'hub': 'HUB_ACCOUNT', 'hub_key': 'account_hk',
      'business_key': 'account_id'}]
) }}
