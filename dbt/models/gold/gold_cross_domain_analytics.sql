-- Finance and CRM together, per customer (amounts in the reporting currency, each converted
-- at its own date's fixing), over the engagement window before the as-of
-- date. Rules (thresholds in dbt_project.yml):
--   engagement_level: HIGHLY_ENGAGED with at least `highly_engaged_interactions`
--     interactions in the window, ENGAGED with at least one, else DISENGAGED;
--   churn_risk: HIGH_RISK when the lifecycle stage is DORMANT or CLOSED, or every account
--     is dormant, or negative interactions outnumber positive ones; MEDIUM_RISK when
--     there was no interaction in the window or any negative one; else LOW_RISK.
with window_start as (
    select dateadd('day', -{{ var('engagement_window_days') }}, {{ as_of_date() }}) as since
),

interactions as (
    select
        i.customer_id,
        count(*) as interaction_count,
        count_if(i.sentiment = 'POSITIVE') as positive_interactions,
        count_if(i.sentiment = 'NEGATIVE') as negative_interactions,
        max(i.interaction_at) as last_interaction_at
    from {{ ref('silver_interactions') }} as i
    cross join window_start as w
    where i.interaction_at >= w.since
    group by i.customer_id
),

accounts as (
    select
        customer_id,
        cast(sum(current_balance_reporting) as number(38, 2)) as total_balance_reporting,
        cast(count_if(current_balance_reporting is null) as number(38, 0)) as unrated_accounts,
        count(*) as account_count,
        count_if(is_dormant) as dormant_accounts,
        sum(transaction_count) as transaction_count
    from {{ ref('gold_transaction_summary') }}
    where is_held  -- the accounts a client holds now: a closed or moved one counts for nobody, or its new owner
    group by customer_id
),

pipeline as (
    select
        customer_id,
        cast(
            sum(case when stage not in ('CLOSED_WON', 'CLOSED_LOST') then amount_reporting else 0 end) as number(38, 2)
        ) as open_pipeline_amount_reporting,
        cast(
            sum(case when stage = 'CLOSED_WON' then amount_reporting else 0 end) as number(38, 2)
        ) as won_amount_reporting,
        cast(count_if(amount is not null and amount_reporting is null) as number(38, 0)) as unrated_opportunities
    from {{ ref('silver_opportunities') }}
    group by customer_id
),

combined as (
    select
        c.customer_id,
        c.country_code,
        c.client_segment,
        c.lifecycle_stage,
        c.value_tier,
        c.reporting_currency,
        c.lifetime_value_reporting,
        i.last_interaction_at,
        coalesce(a.account_count, 0) as account_count,
        coalesce(a.dormant_accounts, 0) as dormant_accounts,
        coalesce(a.transaction_count, 0) as transaction_count,
        coalesce(a.total_balance_reporting, 0) as total_balance_reporting,
        coalesce(i.interaction_count, 0) as interaction_count,
        coalesce(i.positive_interactions, 0) as positive_interactions,
        coalesce(i.negative_interactions, 0) as negative_interactions,
        coalesce(p.open_pipeline_amount_reporting, 0) as open_pipeline_amount_reporting,
        coalesce(p.won_amount_reporting, 0) as won_amount_reporting,
        coalesce(a.unrated_accounts, 0) + coalesce(p.unrated_opportunities, 0) as unrated_amounts
    from {{ ref('gold_customer_summary') }} as c
    left join accounts as a on c.customer_id = a.customer_id
    left join interactions as i on c.customer_id = i.customer_id
    left join pipeline as p on c.customer_id = p.customer_id
)

select
    *,
    {{ engagement_level('interaction_count') }} as engagement_level,
    {{ churn_risk('lifecycle_stage', 'account_count', 'dormant_accounts', 'interaction_count',
        'positive_interactions', 'negative_interactions') }} as churn_risk
from combined
