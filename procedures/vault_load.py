"""Set-based SQL that loads one batch from the staging views into the raw vault.

Everything runs in the engine; Python only sequences statements. Per batch, inside one
transaction, with one load timestamp:

1. quarantine: staged rows with a quarantine reason, unless already quarantined;
2. hubs: business keys from the hub's own entity and from every reference to it (a link
   side), new keys only, one row per key (own entity first). The ghost row of the zero
   key is inserted with the table (sql/040_vault.sql);
3. links: new link keys only, one row per key;
4. satellites: per key, the batch's latest row by business timestamp (then file and row
   number), inserted when it differs from the key's latest satellite row and is newer.
   The rule for late and out-of-order rows: a change whose business timestamp is older
   than the latest row's is superseded and not inserted (counted in the audit as
   ``superseded``); a late row that is still the newest change is inserted; on equal
   timestamps the later batch wins;
5. the batch is marked loaded.

Re-running a batch therefore inserts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from procedures import spec, staging
from procedures import vault as vault_spec
from procedures.sql import quote, sql_literal

QUARANTINE_TABLE = "QUARANTINE"
LOADED_TABLE = "LOADED_BATCHES"


@dataclass(frozen=True)
class Statement:
    table: str
    kind: str  # quarantine | hub | link | satellite | superseded
    sql: str


def _stg(landing: str, ent: spec.Entity) -> str:
    return f"{quote(landing)}.{staging.view_name(ent)}"


def work_table(ent: spec.Entity, batch: str, run_id: str) -> str:
    """The batch's staged rows of one entity, computed once (casts, hashes) and read by
    every statement of the load instead of re-evaluating the staging view each time.

    A temporary table: it lives in the load's session only (gone with it if the process
    is killed), has no fail-safe in Snowflake, and stays in memory locally. Named by
    batch and run, so two loads never share one."""
    return quote(f"WORK_{staging.view_name(ent)}_{batch}_{run_id[:12]}")


def stage_batch_sql(landing: str, ent: spec.Entity, batch: str, run_id: str) -> str:
    """The work table of one entity, with ``BATCH_RANK``: 1 for the key's latest clean row
    in the batch (by business timestamp, then file and row number), which is the row its
    hub, satellite and the superseded count read, so no later statement needs a window."""
    hk = quote(vault_spec.Hub(ent).hash_key)
    rank = (
        f"ROW_NUMBER() OVER (PARTITION BY {hk} ORDER BY (QUARANTINE_REASON IS NULL) DESC, "
        f"{quote(ent.event_column)} DESC NULLS LAST, FILE_NAME DESC, FILE_ROW_NUMBER DESC)"
    )
    # DDL, so it runs before the load's transaction (DDL would commit it in Snowflake)
    return (
        f"CREATE OR REPLACE TEMPORARY TABLE {work_table(ent, batch, run_id)} AS "
        f"SELECT *, {rank} AS BATCH_RANK FROM {_stg(landing, ent)} WHERE batch_id = {sql_literal(batch)}"
    )


def drop_batch_sql(ent: spec.Entity, batch: str, run_id: str) -> str:
    return f"DROP TABLE IF EXISTS {work_table(ent, batch, run_id)}"


def quarantine_sql(vault: str, batch: str, load_ts: str, run_id: str) -> str:
    """Every entity's quarantined rows of the batch, in one statement."""
    selects = " UNION ALL ".join(
        f"SELECT {sql_literal(ent.name)} AS entity, batch_id, file_name, file_row_number, "
        f"{quote(ent.key)} AS business_key, quarantine_reason FROM {work_table(ent, batch, run_id)} "
        "WHERE quarantine_reason IS NOT NULL"
        for ent in spec.ENTITIES
    )
    return (
        f"INSERT INTO {quote(vault)}.{QUARANTINE_TABLE} "
        "(entity, batch_id, file_name, file_row_number, business_key, reason, load_ts) "
        f"SELECT s.entity, s.batch_id, s.file_name, s.file_row_number, s.business_key, s.quarantine_reason, "
        f"{load_ts} FROM ({selects}) s WHERE NOT EXISTS (SELECT 1 FROM {quote(vault)}.{QUARANTINE_TABLE} q "
        "WHERE q.file_name = s.file_name AND q.file_row_number = s.file_row_number)"
    )


def hub_sql(vault: str, hub: vault_spec.Hub, batch: str, load_ts: str, run_id: str) -> str:
    """New keys from the hub's own entity (record source: that entity) and from every
    reference to it (a key only referenced takes the alphabetically first referring
    source). One row per hash key, whatever arrives: the hash recipe trims and upper-cases
    the business key, so ``C001`` from the entity and `` c001 `` from a reference are one
    key, and the hub keeps the spelling of the row whose source sorts first (the entity's
    own), then the smallest spelling."""
    sources = [
        f"SELECT {quote(hub.hash_key)} AS hk, {quote(hub.business_key)} AS bk, '0' || record_source AS src "
        f"FROM {work_table(hub.entity, batch, run_id)} WHERE BATCH_RANK = 1 AND quarantine_reason IS NULL"
    ]
    for link in vault_spec.LINKS:
        parent, column = link.hubs[0]
        if parent.name != hub.name:
            continue
        sources.append(
            f"SELECT {quote(hub.hash_key)} AS hk, {quote(column)} AS bk, '1' || record_source AS src "
            f"FROM {work_table(link.child, batch, run_id)} "
            f"WHERE quarantine_reason IS NULL AND {quote(hub.hash_key)} <> '{vault_spec.ZERO_KEY}'"
        )
    union = " UNION ALL ".join(sources)
    table = f"{quote(vault)}.{quote(hub.name)}"
    return (
        f"INSERT INTO {table} ({quote(hub.hash_key)}, {quote(hub.business_key)}, load_ts, record_source, batch_id) "
        f"SELECT hk, MIN_BY(bk, src || '|' || bk), {load_ts}, SUBSTR(MIN(src), 2), {sql_literal(batch)} "
        f"FROM ({union}) src WHERE NOT EXISTS (SELECT 1 FROM {table} h WHERE h.{quote(hub.hash_key)} = src.hk) "
        "GROUP BY hk"
    )


def link_sql(vault: str, link: vault_spec.Link, batch: str, load_ts: str, run_id: str) -> str:
    table = f"{quote(vault)}.{quote(link.name)}"
    hub_keys = [quote(hub.hash_key) for hub, _ in link.hubs]
    return (
        f"INSERT INTO {table} ({quote(link.hash_key)}, {', '.join(hub_keys)}, load_ts, record_source, batch_id) "
        f"SELECT {quote(link.hash_key)}, {', '.join(hub_keys)}, {load_ts}, record_source, {sql_literal(batch)} "
        # the hub keys and source follow from the link key: one row per key, without a window
        f"FROM (SELECT {quote(link.hash_key)}, {', '.join(f'ANY_VALUE({k}) AS {k}' for k in hub_keys)}, "
        f"ANY_VALUE(record_source) AS record_source FROM {work_table(link.child, batch, run_id)} "
        f"WHERE quarantine_reason IS NULL GROUP BY {quote(link.hash_key)}) s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} l WHERE l.{quote(link.hash_key)} = s.{quote(link.hash_key)})"
    )


def _candidates(vault: str, sat: vault_spec.Satellite, batch: str, run_id: str) -> str:
    """The batch's latest clean row per key, beside the key's latest satellite row."""
    hk = quote(sat.hub.hash_key)
    event = quote(sat.entity.event_column)
    payload = ", ".join(f"c.{quote(c.name)}" for c in sat.payload)
    return (
        f"SELECT c.{hk}, c.hashdiff, {payload}, c.record_source, c.{event} AS event_at, "
        "cur.hashdiff AS current_hashdiff, cur.event_at AS current_event_at, cur.batch_id AS current_batch_id "
        f"FROM (SELECT * FROM {work_table(sat.entity, batch, run_id)} "
        "WHERE BATCH_RANK = 1 AND quarantine_reason IS NULL) c "
        f"LEFT JOIN (SELECT {hk}, hashdiff, {event} AS event_at, batch_id FROM {quote(vault)}.{quote(sat.name)} "
        f"WHERE {hk} IN (SELECT {hk} FROM {work_table(sat.entity, batch, run_id)}) "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {hk} ORDER BY load_ts DESC) = 1) cur ON cur.{hk} = c.{hk}"
    )


def _newer(batch: str) -> str:
    """The candidate is the newer change: a later business timestamp, or on a tie (or a
    missing timestamp) a later batch. So re-running an older batch never wins."""
    return (
        "(event_at > current_event_at OR ((event_at = current_event_at OR event_at IS NULL "
        f"OR current_event_at IS NULL) AND {sql_literal(batch)} > current_batch_id))"
    )


def satellite_sql(vault: str, sat: vault_spec.Satellite, batch: str, load_ts: str, run_id: str) -> str:
    hk = quote(sat.hub.hash_key)
    names = ", ".join(quote(c.name) for c in sat.payload)
    return (
        f"INSERT INTO {quote(vault)}.{quote(sat.name)} ({hk}, load_ts, hashdiff, {names}, record_source, batch_id) "
        f"SELECT {hk}, {load_ts}, hashdiff, {names}, record_source, {sql_literal(batch)} "
        f"FROM ({_candidates(vault, sat, batch, run_id)}) x "
        f"WHERE current_hashdiff IS NULL OR (current_hashdiff <> hashdiff AND {_newer(batch)})"
    )


def superseded_sql(vault: str, batch: str, run_id: str) -> str:
    """Per satellite, how many of the batch's changes lose to a newer row already in it:
    one statement, run before the satellites are written."""
    return " UNION ALL ".join(
        f"SELECT {sql_literal(sat.name)} AS satellite, COUNT(*) AS superseded "
        f"FROM ({_candidates(vault, sat, batch, run_id)}) x "
        f"WHERE current_hashdiff <> hashdiff AND NOT {_newer(batch)}"
        for sat in vault_spec.SATELLITES
    )


def repair_sql(vault: str) -> list[tuple[str, str]]:
    """(table, DELETE) for every hub and link: the rows beyond the first per hash key.

    Hubs and links are insert-only, and a load never writes a second row for a key; a lake
    loaded before that was enforced may hold two spellings of one business key under one
    hash key (every join through it doubles). The repair keeps the earliest row per key
    (then the source and spelling that sort first, the rule the loader applies) and
    deletes the rest; satellites and links refer to the hash key only, so nothing else
    changes. ``lake repair`` runs it in one transaction."""
    out = []
    for table, key, tie in [(h.name, h.hash_key, h.business_key) for h in vault_spec.HUBS] + [
        (k.name, k.hash_key, k.hash_key) for k in vault_spec.LINKS
    ]:
        name, hk, bk = f"{quote(vault)}.{quote(table)}", quote(key), quote(tie)
        out.append(
            (
                table,
                f"DELETE FROM {name} d WHERE EXISTS (SELECT 1 FROM {name} k WHERE k.{hk} = d.{hk} AND "
                f"(k.load_ts < d.load_ts OR (k.load_ts = d.load_ts AND "
                f"k.record_source || '|' || k.{bk} < d.record_source || '|' || d.{bk})))",
            )
        )
    return out


def batch_statements(vault: str, batch: str, load_ts: str, run_id: str) -> list[Statement]:
    """Every statement that loads ``batch`` from the work tables of ``run_id``, in order:
    quarantine, hubs, links, then the superseded counts and the satellites."""
    out = [Statement(QUARANTINE_TABLE, "quarantine", quarantine_sql(vault, batch, load_ts, run_id))]
    out += [Statement(hub.name, "hub", hub_sql(vault, hub, batch, load_ts, run_id)) for hub in vault_spec.HUBS]
    out += [Statement(link.name, "link", link_sql(vault, link, batch, load_ts, run_id)) for link in vault_spec.LINKS]
    out.append(Statement("*", "superseded", superseded_sql(vault, batch, run_id)))
    out += [
        Statement(s.name, "satellite", satellite_sql(vault, s, batch, load_ts, run_id)) for s in vault_spec.SATELLITES
    ]
    return out
