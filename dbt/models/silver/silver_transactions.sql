{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='transaction_hk',
        on_schema_change='fail',
        pre_hook="{{ drop_superseded('bronze_transactions', 'transaction_hk') }}"
    )
}}
-- Validated transactions with a signed amount: CREDIT adds, DEBIT subtracts. A row
-- without an account, an amount, a known direction or a booking time is left out (the
-- data-quality rules report it). Amounts stay in their currency and are also converted to
-- the reporting currency at the fixing of the booking date (silver_exchange_rates; a
-- carried fixing is flagged). Incremental: each run takes the satellite rows loaded since
-- the last one, and the rows dated on or after a fixing that arrived since (a late or
-- corrected fixing converts them again), and replaces those transactions; a transaction
-- whose new version is left out is removed first (drop_superseded), never kept as it was.
with transactions as (
    select
        b.transaction_hk,
        b.transaction_id,
        b.account_id,
        {{ standardised('b.transaction_type', 'transaction_types') }} as transaction_type,
        upper(trim(b.direction)) as direction,
        {{ money('b.amount') }} as amount,
        {{ money("case upper(trim(b.direction)) when 'DEBIT' then -b.amount else b.amount end") }} as signed_amount,
        {{ standardised_code('b.currency', 'ref_currencies', 'currency_code') }} as currency,
        {{ standardised('b.status', 'transaction_statuses') }} as status,
        b.transaction_at,
        cast(b.transaction_at as date) as transaction_date,
        b.load_ts
    from {{ ref('bronze_transactions') }} as b
    where
        b.account_id is not null
        and b.account_id <> '{{ var("ghost_business_key") }}'
        and b.amount is not null
        and b.amount >= 0
        and upper(trim(b.direction)) in ({{ quoted_list(var('directions')) }})
        and b.transaction_at is not null
        {% if is_incremental() %}
            and (
                b.load_ts > (
                    select coalesce(max(existing.load_ts), cast('1900-01-01' as timestamp_ntz))
                    from {{ this }} as existing
                )
                or cast(b.transaction_at as date) >= {{ first_refixed_day() }}
            )
        {% endif %}
)

select
    t.transaction_hk,
    t.transaction_id,
    t.account_id,
    t.transaction_type,
    t.direction,
    t.amount,
    t.signed_amount,
    t.currency,
    t.status,
    t.transaction_at,
    t.transaction_date,
    r.reporting_currency,
    {{ in_reporting('t.amount', 'r.rate_to_reporting') }} as amount_reporting,
    {{ in_reporting('t.signed_amount', 'r.rate_to_reporting') }} as signed_amount_reporting,
    r.is_carried as is_rate_carried,
    t.load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from transactions as t
{{ rate_join('r', 't.currency', 't.transaction_date') }}
