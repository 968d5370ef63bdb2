{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='transaction_hk',
        on_schema_change='fail'
    )
}}
-- Validated transactions with a signed amount: CREDIT adds, DEBIT subtracts. A row
-- without an account, an amount, a known direction or a booking time is left out (the
-- data-quality rules report it). Incremental: each run takes the satellite rows loaded
-- since the last one and replaces those transactions.
select
    transaction_hk,
    transaction_id,
    account_id,
    {{ standardised('transaction_type', 'transaction_types') }} as transaction_type,
    upper(trim(direction)) as direction,
    amount,
    case upper(trim(direction)) when 'DEBIT' then -amount else amount end as signed_amount,
    {{ standardised_code('currency', 'ref_currencies', 'currency_code') }} as currency,
    {{ standardised('status', 'transaction_statuses') }} as status,
    transaction_at,
    cast(transaction_at as date) as transaction_date,
    load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from {{ ref('bronze_transactions') }}
where
    account_id is not null
    and account_id <> '{{ var("ghost_business_key") }}'
    and amount is not null
    and amount >= 0
    and upper(trim(direction)) in ({{ quoted_list(var('directions')) }})
    and transaction_at is not null
    {% if is_incremental() %}
        and load_ts > (
            select coalesce(max(existing.load_ts), cast('1900-01-01' as timestamp_ntz)) from {{ this }} as existing
        )
    {% endif %}
