{#- The engagement and churn rules of gold_cross_domain_analytics, as macros so the dbt
    unit tests exercise exactly what the mart runs. -#}
{% macro engagement_level(interaction_count) -%}
    case
        when {{ interaction_count }} >= {{ var('highly_engaged_interactions') }} then 'HIGHLY_ENGAGED'
        when {{ interaction_count }} >= 1 then 'ENGAGED'
        else 'DISENGAGED'
    end
{%- endmacro %}

{% macro churn_risk(lifecycle_stage, account_count, dormant_accounts, interaction_count, positive, negative) -%}
    case
        when {{ lifecycle_stage }} in ('DORMANT', 'CLOSED')
            or ({{ account_count }} > 0 and {{ dormant_accounts }} = {{ account_count }})
            or {{ negative }} > {{ positive }}
            then 'HIGH_RISK'
        when {{ interaction_count }} = 0 or {{ negative }} > 0 then 'MEDIUM_RISK'
        else 'LOW_RISK'
    end
{%- endmacro %}
