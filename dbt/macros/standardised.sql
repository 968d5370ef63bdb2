{#- A value-set column standardised: trimmed and upper-case when that is in the set
    (the var `values_var`), else 'UNKNOWN' (NULL stays NULL). The raw value stays in
    bronze, where the data-quality rules report it. -#}
{% macro standardised(column, values_var) -%}
    case
        when {{ column }} is null then null
        when upper(trim({{ column }})) in ({{ quoted_list(var(values_var)) }}) then upper(trim({{ column }}))
        else 'UNKNOWN'
    end
{%- endmacro %}
