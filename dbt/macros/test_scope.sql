{#- Which rows a data test reads.

    An incremental model stamps every row it writes with the run's start (`dbt_loaded_at`,
    macro below), and its generic data tests (unique, not_null, accepted_values,
    relationships, value_between ...) read only the rows this invocation wrote when it
    built the model, else (`dbt test` on its own) the rows of the model's latest run: the
    scheduled build tests what the day added, not the whole history again, and on a day
    that added nothing the tests read no rows. A full refresh stamps every row alike, so it
    tests every row.

    Why that is enough: the rows an earlier run wrote passed that run's tests (after a
    build whose tests failed, `lake run` tests every row until one passes: lake.dbt), and
    an incremental model replaces rows by its unique_key (delete+insert), so a key the
    latest run wrote has no older row left beside it. Hence unique holds on the whole table
    when it holds on the latest rows (unique tests on another column, such as the business
    key, rely on it mapping one to one onto the hash key); row-by-row tests (not_null,
    accepted_values, ranges) are unaffected by older rows; and the parents of a
    relationships test are never deleted, because the vault is insert-only.

    `--vars '{lake_test_all_rows: true}'` tests every row of every model. -#}
{% macro dbt_loaded_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp_ntz)
{%- endmacro %}


{% macro snowflake__get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if execute and not var('lake_test_all_rows', false) -%}
        {%- set tested = graph.nodes.get(model.attached_node or '') -%}
        {%- if tested and tested.config.materialized == 'incremental' -%}
            {%- if tested.unique_id in selected_resources -%}
                {%- do filters.append('dbt_loaded_at = ' ~ dbt_loaded_at()) -%}
            {%- else -%}
                {%- do filters.append('dbt_loaded_at = (select max(latest.dbt_loaded_at) from '
                    ~ relation ~ ' as latest)') -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
