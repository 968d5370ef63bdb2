{#- The configuration of a model computed per retained snapshot date (ref('as_of_dates')):
    incremental by snapshot_date, delete+insert, so that only snapshots that are new or
    whose snapshot_ts moved are computed (new_snapshots()), and the snapshots that fall out
    of the retention deleted after each run. The point-in-time tables, the bridge and the
    client snapshots share it. -#}
{% macro incremental_by_snapshot() %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_date',
    post_hook=["{{ drop_expired_snapshots() }}"]
) }}
{% endmacro %}
