-- Per account: transaction counts and volumes and the ledger balance in the account's
-- currency (a column of the grain: an account books in its currency; a transaction booked
-- in another currency is counted, left out of the volumes so that they never mix
-- currencies, and reported by a warning rule), the balance also in the reporting currency
-- at the as-of date's fixing, the last activity,
-- and dormancy. An account is dormant when its status is DORMANT or it has had no
-- booking within `dormant_after_days` of the as-of date. The client's country carries the
-- row access policy (an analyst reads the accounts of the regions entitled to).
with booked as (
    select
        t.account_id,
        t.direction,
        t.amount,
        t.signed_amount,
        t.transaction_at,
        t.currency = upper(trim(a.currency)) as is_account_currency
    from {{ ref('silver_transactions') }} as t
    left join {{ ref('bronze_accounts') }} as a on t.account_id = a.account_id
),

activity as (
    select
        account_id,
        {{ money("sum(case when is_account_currency and direction = 'CREDIT' then amount else 0 end)", 38) }}
            as credit_volume,
        {{ money("sum(case when is_account_currency and direction = 'DEBIT' then amount else 0 end)", 38) }}
            as debit_volume,
        {{ money("sum(case when is_account_currency then signed_amount else 0 end)", 38) }} as net_flow,
        cast(count(*) as number(38, 0)) as transaction_count,
        cast(count_if(not is_account_currency) as number(38, 0)) as foreign_currency_transactions,
        min(transaction_at) as first_activity_at,
        max(transaction_at) as last_activity_at
    from booked
    group by account_id
),

as_of as (
    select {{ as_of_date() }} as as_of_date
),

clients as (
    select
        customer_id,
        country_code
    from {{ ref('silver_customers') }}
)

select
    a.account_id,
    a.customer_id,
    a.is_held,
    c.country_code,
    {{ standardised('a.account_type', 'account_types') }} as account_type,
    {{ standardised('a.status', 'account_statuses') }} as account_status,
    {{ standardised_code('a.currency', 'ref_currencies', 'currency_code') }} as currency,
    coalesce(t.transaction_count, 0) as transaction_count,
    coalesce(t.credit_volume, 0) as credit_volume,
    coalesce(t.debit_volume, 0) as debit_volume,
    coalesce(t.net_flow, 0) as net_flow,
    coalesce(t.foreign_currency_transactions, 0) as foreign_currency_transactions,
    {{ money('coalesce(a.balance, 0)') }} as current_balance,
    r.reporting_currency,
    {{ in_reporting('coalesce(a.balance, 0)', 'r.rate_to_reporting') }} as current_balance_reporting,
    t.first_activity_at,
    t.last_activity_at,
    datediff('day', cast(t.last_activity_at as date), as_of.as_of_date) as days_since_last_activity,
    (
        upper(trim(a.status)) = 'DORMANT'
        or t.last_activity_at is null
        or datediff('day', cast(t.last_activity_at as date), as_of.as_of_date) > {{ var('dormant_after_days') }}
    ) as is_dormant,
    as_of.as_of_date
from {{ ref('bronze_accounts') }} as a
cross join as_of
left join activity as t on a.account_id = t.account_id
left join clients as c on a.customer_id = c.customer_id
{{ rate_join('r', 'upper(trim(a.currency))', 'as_of.as_of_date') }}
