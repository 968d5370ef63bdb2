{#- An incremental model that leaves rows out (silver_transactions keeps only valid ones):
    before the run, remove the keys whose upstream row changed since the model's last run.
    delete+insert replaces only the keys the run selects, so without this a key whose new
    version is left out would keep its old row (found by the control totals: silver kept a
    transaction's earlier type and amount after its correction became invalid). -#}
{% macro drop_superseded(upstream, key) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ key }} in (
            select u.{{ key }}
            from {{ ref(upstream) }} as u
            where u.load_ts > (select max(e.load_ts) from {{ this }} as e)
        )
    {%- endif -%}
{%- endmacro %}
