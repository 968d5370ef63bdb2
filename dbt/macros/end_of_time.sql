{#- The vault's open end of a period (procedures/vault.py END_OF_TIME): a date, not NULL,
    so range joins stay simple. -#}
{% macro end_of_time() -%}
    cast('{{ var("end_of_time") }}' as timestamp_ntz)
{%- endmacro %}
