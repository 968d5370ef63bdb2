{#- The date the marts are "as of": the latest booking in silver_transactions. Windows
    and dormancy are measured from it, not from today, so replaying old data gives the
    answers it gave then. -#}
{% macro as_of_date() -%}
    (select max(transaction_date) from {{ ref('silver_transactions') }})
{%- endmacro %}
