{#- The value tier of a lifetime value: the first tier (highest first) whose minimum it
    reaches; the thresholds are the `value_tiers` var. -#}
{% macro value_tier(amount) -%}
    case
    {%- for tier in var('value_tiers') %}
        when {{ amount }} >= {{ tier['min'] }} then '{{ tier['name'] }}'
    {%- endfor %}
    end
{%- endmacro %}
