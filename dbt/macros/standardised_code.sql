{#- A reference-data column (qualified: `b.client_segment`) standardised: trimmed and upper-case when the reference seed
    (dbt/seeds/reference/, from procedures/spec.py) has the code valid at `as_of` (by
    default: a current code, valid_to empty), else 'UNKNOWN' (NULL stays NULL).

    A correlated scalar subquery with an aggregate and no GROUP BY: Snowflake runs those
    ("Correlated scalar subqueries are currently supported only if they can be statically
    determined to return one row (e.g. if the SELECT list contains an aggregate function
    with no GROUP BY)", https://docs.snowflake.com/en/user-guide/querying-subqueries). -#}
{% macro standardised_code(column, seed, code, as_of=none) -%}
    {#- a bare name inside the subquery resolves to the seed's own column when the seed has
        one of that name (client_segment did: every client got the last segment), so the
        column must be qualified by its relation's alias -#}
    {%- if '.' not in column -%}
        {{ exceptions.raise_compiler_error(
            "standardised_code: qualify the column with its relation's alias (b." ~ column ~ ", not " ~ column
            ~ "): a bare name can resolve to " ~ seed ~ "'s own column") }}
    {%- endif %}
    case
        when {{ column }} is null then null
        else coalesce((
            select max(r.{{ code }})
            from {{ ref(seed) }} as r
            where
                r.{{ code }} = upper(trim({{ column }}))
                {%- if as_of is none %}
                and r.valid_to is null
                {%- else %}
                and r.valid_from <= {{ as_of }}
                and (r.valid_to is null or r.valid_to >= {{ as_of }})
                {%- endif %}
        ), 'UNKNOWN')
    end
{%- endmacro %}
