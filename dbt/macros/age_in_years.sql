{#- Whole years between a date and today (or `as_of`): the birthday counts only once it
    has passed this year. -#}
{% macro age_in_years(date_column, as_of='cast(sysdate() as date)') -%}
    (year({{ as_of }}) - year({{ date_column }})
        - case
            when month({{ as_of }}) * 100 + day({{ as_of }}) < month({{ date_column }}) * 100 + day({{ date_column }})
                then 1
            else 0
        end)
{%- endmacro %}
