{#- A list of strings as SQL literals: 'A', 'B'. -#}
{% macro quoted_list(values) -%}
    {%- for value in values -%}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}
