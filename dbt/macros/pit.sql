{#- A point-in-time table: per retained snapshot date (ref('as_of_dates')) and hub key
    loaded by then, the load_ts of each satellite's row in effect at the snapshot (the
    latest loaded by its snapshot_ts), or NULL when the key had none yet. Join a
    satellite on (hash key, load_ts) to read what the vault knew then.

    Incremental: only snapshots that are new, or whose snapshot_ts moved (a batch of that
    date loaded again), are computed; the others stay as they are. Snapshots that fall out
    of the retention are deleted after each run. -#}
{% macro pit(hub, key, satellites) %}
{{ incremental_by_snapshot() }}
with snapshots as (
    {{ new_snapshots() }}
),

keys as (
    select
        h.{{ key }},
        d.snapshot_date,
        d.snapshot_ts
    from {{ source('vault', hub) }} as h
    inner join snapshots as d on h.load_ts <= d.snapshot_ts
    where h.{{ key }} <> '{{ var("zero_key") }}'
)
{%- for satellite in satellites %},

{{ satellite | lower }} as (
    select
        k.{{ key }},
        k.snapshot_date,
        max(s.load_ts) as load_ts
    from keys as k
    inner join {{ source('vault', satellite) }} as s
        on k.{{ key }} = s.{{ key }} and s.load_ts <= k.snapshot_ts
    group by k.{{ key }}, k.snapshot_date
)
{%- endfor %}

select
    k.snapshot_date,
    k.snapshot_ts,
    k.{{ key }},
    {%- for satellite in satellites %}
    {{ satellite | lower }}.load_ts as {{ satellite | lower }}_load_ts,
    {%- endfor %}
    {{ dbt_loaded_at() }} as dbt_loaded_at
from keys as k
{%- for satellite in satellites %}
left join {{ satellite | lower }}
    on k.{{ key }} = {{ satellite | lower }}.{{ key }} and k.snapshot_date = {{ satellite | lower }}.snapshot_date
{%- endfor %}
{% endmacro %}


{#- The retained snapshots a point-in-time or bridge run computes: all of them on a full
    build, else those not in the table yet or whose snapshot_ts moved. -#}
{% macro new_snapshots() %}
    select
        d.snapshot_date,
        d.snapshot_ts
    from {{ ref('as_of_dates') }} as d
    where
        d.is_retained
        {%- if is_incremental() %}
            and not exists (
                select 1 from {{ this }} as existing
                where existing.snapshot_date = d.snapshot_date and existing.snapshot_ts = d.snapshot_ts
            )
        {%- endif %}
{% endmacro %}


{#- After a run: the snapshots that fell out of the retention go. -#}
{% macro drop_expired_snapshots() %}
    delete from {{ this }}
    where snapshot_date not in (select r.snapshot_date from {{ ref('as_of_dates') }} as r where r.is_retained)
{% endmacro %}
