{#- The bronze shape of one vault entity: each key's current satellite row, its business
    key from the hub, and for each link the latest related business key.

    Incremental runs: the vault is insert-only, so the keys whose satellite or links
    gained rows since the last run are exactly the ones that changed, and only they are
    derived again (the model deletes and re-inserts them by `key`). `load_ts` is when the
    vault last changed the row, satellite or link: the next run's watermark. `dbt_loaded_at`
    is when dbt wrote the row (macros/test_scope.sql: a build tests the rows it wrote).

    links: [{link: 'LINK_CUSTOMER_ACCOUNT', hub: 'HUB_CUSTOMER', hub_key: 'customer_hk',
             business_key: 'customer_id'}, ...]; a link with an effectivity satellite names
    it ({..., effectivity: 'EFF_SAT_CUSTOMER_ACCOUNT', held: 'is_held'}): the related key is
    then the relationship's latest (the open one, or the last to end) and `held` says
    whether it is open now. -#}
{% macro bronze_current(hub, key, business_key, satellite, columns, links=[]) %}
with
{%- if is_incremental() %}
    watermark as (
        select max(existing.load_ts) as since from {{ this }} as existing
    ),

    changed as (
        select s.{{ key }}
        from {{ source('vault', satellite) }} as s
        where s.load_ts > (select w.since from watermark as w)
        {%- for l in links %}
        union
        select l.{{ key }}
        from {{ source('vault', l.effectivity or l.link) }} as l
        where l.load_ts > (select w.since from watermark as w)
        {%- endfor %}
    ),
{%- endif %}

latest as (
    select s.*
    from {{ source('vault', satellite) }} as s
    {%- if is_incremental() %}
    where s.{{ key }} in (select c.{{ key }} from changed as c)
    {%- endif %}
    qualify row_number() over (partition by s.{{ key }} order by s.load_ts desc) = 1
)
{%- for l in links %},

related_{{ loop.index }} as (
    select
        l.{{ key }},
        p.{{ l.business_key }},
        {%- if l.effectivity %}
        l.end_at = {{ end_of_time() }} as {{ l.held }},
        {%- endif %}
        l.load_ts
    from {{ source('vault', l.effectivity or l.link) }} as l
    inner join {{ source('vault', l.hub) }} as p on l.{{ l.hub_key }} = p.{{ l.hub_key }}
    {%- if is_incremental() %}
    where l.{{ key }} in (select c.{{ key }} from changed as c)
    {%- endif %}
    {%- if l.effectivity %}
    {#- a move ends one relationship and starts another in one load: the open one wins #}
    qualify row_number() over (
        partition by l.{{ key }} order by l.load_ts desc, l.end_at = {{ end_of_time() }} desc, l.start_at desc
    ) = 1
    {%- else %}
    qualify row_number() over (partition by l.{{ key }} order by l.load_ts desc) = 1
    {%- endif %}
)
{%- endfor %}

select
    h.{{ key }},
    h.{{ business_key }},
    {%- for l in links %}
    related_{{ loop.index }}.{{ l.business_key }},
    {%- if l.effectivity %}
    coalesce(related_{{ loop.index }}.{{ l.held }}, false) as {{ l.held }},
    {%- endif %}
    {%- endfor %}
    {%- for column in columns %}
    s.{{ column }},
    {%- endfor %}
    s.record_source,
    greatest(
        s.load_ts
        {%- for l in links %}, coalesce(related_{{ loop.index }}.load_ts, s.load_ts){% endfor %}
    ) as load_ts,
    {{ dbt_loaded_at() }} as dbt_loaded_at
from latest as s
inner join {{ source('vault', hub) }} as h on s.{{ key }} = h.{{ key }}
{%- for l in links %}
left join related_{{ loop.index }} on s.{{ key }} = related_{{ loop.index }}.{{ key }}
{%- endfor %}
{% endmacro %}
