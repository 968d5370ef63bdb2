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
5. effectivity satellites: per driving key, a relationship that starts, moves or ends
   (see ``vault.EffectivitySatellite``), under the same rule: a change older than the
   driving key's latest recorded change is superseded;
6. status tracking: keys of a complete snapshot that were missing are recorded present
   (or reappeared); keys the snapshot lacks are recorded deleted, only when the batch's
   delivery of the entity is complete: every control file says ``full``, reconciliation
   found nothing missing, and no row lacked its key;
7. multi-active satellites: per parent key, the batch's set, inserted whole when its set
   hashdiff differs from the current set's and it is newer (the same rule, on the
   latest business timestamp of each set);
8. the batch is marked loaded.

Steps 5 to 7 compare with the rows loaded before this load (``load_ts`` below this
one's), so each reads the state the load started from.

Re-running a batch therefore inserts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from procedures import spec, staging
from procedures import vault as vault_spec
from procedures.ingest import CONTROL_TABLE, RECONCILIATION_TABLE
from procedures.sql import quote, sql_literal

QUARANTINE_TABLE = "QUARANTINE"
LOADED_TABLE = "LOADED_BATCHES"


@dataclass(frozen=True)
class Statement:
    table: str
    kind: str  # quarantine | hub | link | satellite | effectivity | status | multi_active | superseded
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
    for child, reference in vault_spec.REFERENCES:
        if reference.entity != hub.entity.name:
            continue
        sources.append(
            f"SELECT {quote(hub.hash_key)} AS hk, {quote(reference.column)} AS bk, '1' || record_source AS src "
            f"FROM {work_table(child, batch, run_id)} "
            f"WHERE quarantine_reason IS NULL AND {quote(hub.hash_key)} <> '{vault_spec.ZERO_KEY}'"
        )
    table = f"{quote(vault)}.{quote(hub.name)}"
    columns = f"({quote(hub.hash_key)}, {quote(hub.business_key)}, load_ts, record_source, batch_id)"
    if len(sources) == 1:
        # no other entity refers to this hub: the entity's latest row per key is already
        # one row per hash key, so no spelling to choose between
        return (
            f"INSERT INTO {table} {columns} SELECT hk, bk, {load_ts}, SUBSTR(src, 2), {sql_literal(batch)} "
            f"FROM ({sources[0]}) src WHERE NOT EXISTS (SELECT 1 FROM {table} h WHERE h.{quote(hub.hash_key)} = src.hk)"
        )
    union = " UNION ALL ".join(sources)
    return (
        f"INSERT INTO {table} {columns} "
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


def _candidates(vault: str, sat: vault_spec.Satellite, batch: str, run_id: str, known: bool = False) -> str:
    """The batch's latest clean row per key, beside the key's latest satellite row (with
    ``known``, only the keys that have one: what a count of superseded changes needs, and
    nothing at all on a batch's first load of new keys)."""
    hk = quote(sat.hub.hash_key)
    event = quote(sat.entity.event_column)
    payload = ", ".join(f"c.{quote(c.name)}" for c in sat.payload)
    return (
        f"SELECT c.{hk}, c.{sat.hashdiff_column} AS hashdiff, {payload}, c.record_source, c.{event} AS event_at, "
        "cur.hashdiff AS current_hashdiff, cur.event_at AS current_event_at, cur.batch_id AS current_batch_id "
        f"FROM (SELECT * FROM {work_table(sat.entity, batch, run_id)} "
        "WHERE BATCH_RANK = 1 AND quarantine_reason IS NULL) c "
        f"{'' if known else 'LEFT '}JOIN (SELECT {hk}, hashdiff, {event} AS event_at, batch_id "
        f"FROM {quote(vault)}.{quote(sat.name)} "
        f"WHERE {hk} IN (SELECT {hk} FROM {work_table(sat.entity, batch, run_id)}) "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {hk} ORDER BY load_ts DESC) = 1) cur ON cur.{hk} = c.{hk}"
    )


def _newer(batch: str, event: str = "event_at", current: str = "current_event_at", by: str = "current_batch_id") -> str:
    """The candidate is the newer change: a later business timestamp, or on a tie (or a
    missing timestamp) a later batch. So re-running an older batch never wins."""
    return (
        f"({event} > {current} OR (({event} = {current} OR {event} IS NULL "
        f"OR {current} IS NULL) AND {sql_literal(batch)} > {by}))"
    )


def satellite_sql(
    vault: str, sat: vault_spec.Satellite, batch: str, load_ts: str, run_id: str, empty: bool = False
) -> str:
    """The batch's changes: per key its latest clean row, when it differs from the key's
    latest satellite row and is newer. Into an ``empty`` satellite (a lake's first load),
    every key's row, without looking for history that is not there."""
    hk = quote(sat.hub.hash_key)
    names = ", ".join(quote(c.name) for c in sat.payload)
    if empty:
        return (
            f"INSERT INTO {quote(vault)}.{quote(sat.name)} ({hk}, load_ts, hashdiff, {names}, record_source, batch_id) "
            f"SELECT {hk}, {load_ts}, {sat.hashdiff_column}, {names}, record_source, {sql_literal(batch)} "
            f"FROM {work_table(sat.entity, batch, run_id)} WHERE BATCH_RANK = 1 AND quarantine_reason IS NULL"
        )
    return (
        f"INSERT INTO {quote(vault)}.{quote(sat.name)} ({hk}, load_ts, hashdiff, {names}, record_source, batch_id) "
        f"SELECT {hk}, {load_ts}, hashdiff, {names}, record_source, {sql_literal(batch)} "
        f"FROM ({_candidates(vault, sat, batch, run_id)}) x "
        f"WHERE current_hashdiff IS NULL OR (current_hashdiff <> hashdiff AND {_newer(batch)})"
    )


def superseded_sql(vault: str, batch: str, load_ts: str, run_id: str, empty: frozenset[str] = frozenset()) -> str:
    """Per satellite, how many of the batch's changes lose to a newer row already in it:
    one statement, run before the satellites are written ("" when every one is empty)."""
    counts = [
        f"SELECT {sql_literal(sat.name)} AS satellite, COUNT(*) AS superseded "
        f"FROM ({_candidates(vault, sat, batch, run_id, known=True)}) x "
        f"WHERE current_hashdiff <> hashdiff AND NOT {_newer(batch)}"
        for sat in vault_spec.SATELLITES
        if sat.name not in empty
    ]
    relationship_newer = _newer(batch, current="last_changed_at", by="last_batch_id")
    counts += [
        f"SELECT {sql_literal(eff.name)}, COUNT(*) "
        f"FROM ({_effectivity_candidates(vault, eff, batch, load_ts, run_id, known=True)}) x "
        f"WHERE changed AND NOT {relationship_newer}"
        for eff in vault_spec.EFFECTIVITY_SATELLITES
        if eff.name not in empty
    ]
    counts += [
        f"SELECT {sql_literal(msat.name)}, COUNT(*) "
        f"FROM ({_sets(vault, msat, batch, load_ts, run_id, known=True)}) x "
        f"WHERE current_set_hashdiff <> set_hashdiff AND NOT {_newer(batch, 'set_event_at', 'current_event_at')}"
        for msat in vault_spec.MULTI_ACTIVE_SATELLITES
        if msat.name not in empty
    ]
    return " UNION ALL ".join(counts)


def _before(vault: str, table: str, load_ts: str) -> str:
    """A table's rows as they were when this load started."""
    return f"(SELECT * FROM {quote(vault)}.{quote(table)} WHERE load_ts < {load_ts})"


def _relationships_now(eff: vault_spec.EffectivitySatellite, batch: str, run_id: str) -> str:
    """Per driving key of the batch: its relationship now (link key, the other hub's key),
    the business timestamp, and whether the entity says the relationship ended."""
    link, drive, other = (quote(eff.link.hash_key), quote(eff.driving_key.hash_key), quote(eff.other_key.hash_key))
    child = eff.link.child
    ended = "FALSE"
    if child.ends_relationship:
        column, value = child.ends_relationship
        ended = f"COALESCE({quote(column)} = {sql_literal(value)}, FALSE)"
    return (
        f"SELECT {link} AS link_hk, {drive} AS drive_hk, {other} AS other_hk, "
        f"{quote(child.event_column)} AS event_at, {ended} AS ended, record_source "
        f"FROM {work_table(child, batch, run_id)} WHERE BATCH_RANK = 1 AND quarantine_reason IS NULL"
    )


def _effectivity_candidates(
    vault: str, eff: vault_spec.EffectivitySatellite, batch: str, load_ts: str, run_id: str, known: bool = False
) -> str:
    """Per driving key of the batch: its relationship now (link key, the other hub's key,
    the business timestamp, whether the entity says the relationship ended), beside its
    open relationship before this load and its latest recorded change (with ``known``,
    only the driving keys that have one)."""
    link, drive, other = (quote(eff.link.hash_key), quote(eff.driving_key.hash_key), quote(eff.other_key.hash_key))
    work = work_table(eff.link.child, batch, run_id)
    before = _before(vault, eff.name, load_ts)
    in_batch = f"{drive} IN (SELECT {drive} FROM {work})"
    end = vault_spec.END_OF_TIME_SQL
    return (
        f"SELECT c.*, o.link_hk AS open_link_hk, o.other_hk AS open_other_hk, o.start_at AS open_start_at, "
        "l.last_changed_at, l.last_batch_id, "
        "(o.link_hk IS NULL AND NOT c.ended) OR (o.link_hk IS NOT NULL AND (o.link_hk <> c.link_hk OR c.ended)) "
        "AS changed "
        f"FROM ({_relationships_now(eff, batch, run_id)}) c "
        # the driving key's open relationship: of the link keys whose latest row is open, the
        # latest to start (one, unless a lake was loaded without this rule)
        f"LEFT JOIN (SELECT drive_hk, link_hk, other_hk, start_at FROM (SELECT {drive} AS drive_hk, {link} AS link_hk, "
        f"{other} AS other_hk, start_at, end_at FROM {before} e WHERE {in_batch} "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {link} ORDER BY load_ts DESC) = 1) latest WHERE end_at = {end} "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY drive_hk ORDER BY start_at DESC) = 1) o ON o.drive_hk = c.drive_hk "
        f"{'' if known else 'LEFT '}JOIN (SELECT {drive} AS drive_hk, MAX(changed_at) AS last_changed_at, "
        "MAX(batch_id) AS last_batch_id "
        f"FROM {before} e WHERE {in_batch} GROUP BY {drive}) l ON l.drive_hk = c.drive_hk"
    )


def effectivity_sql(
    vault: str, eff: vault_spec.EffectivitySatellite, batch: str, load_ts: str, run_id: str, empty: bool = False
) -> str:
    """The relationships that end (moved or ended by the entity) and the ones that start,
    from one pass over the candidates: each joins a two-row list of sides and keeps the
    sides that apply. A driving key seen for the first time always records its
    relationship; into an ``empty`` satellite every one is seen for the first time."""
    newer = _newer(batch, current="last_changed_at", by="last_batch_id")
    end = vault_spec.END_OF_TIME_SQL
    columns = [eff.link.hash_key, eff.driving_key.hash_key, eff.other_key.hash_key]
    target = (
        f"INSERT INTO {quote(vault)}.{quote(eff.name)} ({', '.join(quote(c) for c in columns)}, load_ts, start_at, "
        "end_at, changed_at, record_source, batch_id) "
    )
    if empty:
        return (
            f"{target}SELECT link_hk, drive_hk, other_hk, {load_ts}, event_at, "
            f"CASE WHEN ended THEN event_at ELSE {end} END, event_at, record_source, {sql_literal(batch)} "
            f"FROM ({_relationships_now(eff, batch, run_id)}) c"
        )
    ends = f"open_link_hk IS NOT NULL AND changed AND {newer}"
    starts = f"last_changed_at IS NULL OR (changed AND {newer} AND (open_link_hk IS NULL OR open_link_hk <> link_hk))"

    def side(ended: str, started: str) -> str:
        return f"CASE WHEN s.side = 'end' THEN {ended} ELSE {started} END"

    return (
        f"{target}SELECT {side('x.open_link_hk', 'x.link_hk')}, x.drive_hk, {side('x.open_other_hk', 'x.other_hk')}, "
        f"{load_ts}, {side('x.open_start_at', 'x.event_at')}, "
        f"{side('x.event_at', f'CASE WHEN x.ended THEN x.event_at ELSE {end} END')}, x.event_at, x.record_source, "
        f"{sql_literal(batch)} FROM ({_effectivity_candidates(vault, eff, batch, load_ts, run_id)}) x "
        "JOIN (SELECT 'end' AS side UNION ALL SELECT 'start') s "
        f"ON (s.side = 'end' AND {ends}) OR (s.side = 'start' AND ({starts}))"
    )


def snapshot_complete_sql(landing: str, entity: spec.Entity, batch: str, run_id: str) -> str:
    """TRUE when the batch's delivery of a snapshot entity is whole: it has control files,
    every one says ``full``, reconciliation found no file missing or short, and no row
    lacked its key (a key that cannot be read might be any of the missing ones)."""
    b, name = sql_literal(batch), sql_literal(entity.name)
    control = f"{quote(landing)}.{CONTROL_TABLE}"
    return (
        f"(EXISTS (SELECT 1 FROM {control} WHERE batch_id = {b} AND entity = {name}) "
        f"AND NOT EXISTS (SELECT 1 FROM {control} WHERE batch_id = {b} AND entity = {name} "
        "AND COALESCE(LOWER(TRIM(delivery)), '') <> 'full') "
        f"AND NOT EXISTS (SELECT 1 FROM {quote(landing)}.{RECONCILIATION_TABLE} "
        f"WHERE batch_id = {b} AND entity = {name}) "
        f"AND NOT EXISTS (SELECT 1 FROM {work_table(entity, batch, run_id)} WHERE {quote(entity.key)} IS NULL))"
    )


def status_sql(vault: str, landing: str, sts: vault_spec.StatusSatellite, batch: str, load_ts: str, run_id: str) -> str:
    """Keys present in the batch whose status was missing or DELETED; keys whose status
    was present and that a complete snapshot of the batch lacks. A batch older than a
    key's latest status changes nothing for it."""
    hk = quote(sts.hub.hash_key)
    work = work_table(sts.entity, batch, run_id)
    b = sql_literal(batch)
    current = (
        f"(SELECT {hk}, status, batch_id FROM {_before(vault, sts.name, load_ts)} t "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {hk} ORDER BY load_ts DESC) = 1)"
    )
    return (
        f"INSERT INTO {quote(vault)}.{quote(sts.name)} ({hk}, load_ts, status, record_source, batch_id) "
        f"SELECT hk, {load_ts}, status, record_source, {b} FROM ("
        f"SELECT p.hk, CASE WHEN cur.status IS NULL THEN 'PRESENT' ELSE 'REAPPEARED' END AS status, p.record_source "
        f"FROM (SELECT {hk} AS hk, MIN(record_source) AS record_source FROM {work} "
        f"WHERE quarantine_reason IS NULL GROUP BY {hk}) p LEFT JOIN {current} cur ON cur.{hk} = p.hk "
        f"WHERE cur.status IS NULL OR (cur.status = 'DELETED' AND cur.batch_id <= {b}) "
        "UNION ALL "
        f"SELECT cur.{hk}, 'DELETED', {sql_literal(f'{sts.entity.producer}.{sts.entity.name}')} FROM {current} cur "
        f"WHERE cur.status <> 'DELETED' AND cur.batch_id <= {b} "
        f"AND {snapshot_complete_sql(landing, sts.entity, batch, run_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM {work} w WHERE w.{hk} = cur.{hk} AND w.{quote(sts.entity.key)} IS NOT NULL)) s"
    )


def _sets(
    vault: str,
    msat: vault_spec.MultiActiveSatellite,
    batch: str,
    load_ts: str,
    run_id: str,
    known: bool = False,
    empty: bool = False,
) -> str:
    """Per parent key of the batch: its set's hashdiff and latest business timestamp, beside
    its current set's (hashdiff, latest timestamp, batch; with ``known``, only the parents
    that have one).

    The set hashdiff is the MD5 of the members' row hashdiffs (which cover the member's
    key, see staging), in order: the same members with the same attributes give the same
    set hashdiff in any order
    ("LISTAGG( [ DISTINCT ] <expr1> [, <delimiter> ] ) [ WITHIN GROUP ( <orderby_clause> ) ]",
    https://docs.snowflake.com/en/sql-reference/functions/listagg)."""
    hk = quote(msat.hub.hash_key)
    event = quote(msat.entity.event_column)
    work = work_table(msat.entity, batch, run_id)
    sets = (
        f"SELECT {hk} AS hk, MD5(LISTAGG(hashdiff, ',') WITHIN GROUP (ORDER BY hashdiff)) AS set_hashdiff, "
        f"MAX({event}) AS set_event_at FROM {work} WHERE BATCH_RANK = 1 AND quarantine_reason IS NULL GROUP BY {hk}"
    )
    if empty:  # no parent has a set yet
        return (
            "SELECT hk, set_hashdiff, set_event_at, CAST(NULL AS VARCHAR) AS current_set_hashdiff, "
            f"CAST(NULL AS TIMESTAMP_NTZ) AS current_event_at, CAST(NULL AS VARCHAR) AS current_batch_id FROM ({sets})"
        )
    return (
        "SELECT n.hk, n.set_hashdiff, n.set_event_at, cur.set_hashdiff AS current_set_hashdiff, "
        "cur.event_at AS current_event_at, cur.batch_id AS current_batch_id "
        f"FROM ({sets}) n "
        f"{'' if known else 'LEFT '}JOIN (SELECT {hk}, ANY_VALUE(set_hashdiff) AS set_hashdiff, "
        f"MAX({event}) AS event_at, "
        f"MAX(batch_id) AS batch_id FROM {_before(vault, msat.name, load_ts)} c "
        f"WHERE {hk} IN (SELECT {hk} FROM {work}) "
        f"GROUP BY {hk}, load_ts QUALIFY load_ts = MAX(load_ts) OVER (PARTITION BY {hk})) cur ON cur.{hk} = n.hk"
    )


def multi_active_sql(
    vault: str, msat: vault_spec.MultiActiveSatellite, batch: str, load_ts: str, run_id: str, empty: bool = False
) -> str:
    """Every member of each set whose set hashdiff differs from its parent's current set
    (or that has none yet) and is newer: a changed set is stored whole."""
    hk = quote(msat.hub.hash_key)
    names = ", ".join(quote(c.name) for c in msat.payload)
    member = quote(msat.member_key)
    newer = _newer(batch, "s.set_event_at", "s.current_event_at", "s.current_batch_id")
    return (
        f"INSERT INTO {quote(vault)}.{quote(msat.name)} ({hk}, load_ts, {member}, hashdiff, "
        f"set_hashdiff, {names}, record_source, batch_id) "
        f"SELECT m.{hk}, {load_ts}, m.{member}, m.hashdiff, s.set_hashdiff, "
        f"{', '.join(f'm.{quote(c.name)}' for c in msat.payload)}, m.record_source, {sql_literal(batch)} "
        f"FROM {work_table(msat.entity, batch, run_id)} m "
        f"JOIN ({_sets(vault, msat, batch, load_ts, run_id, empty=empty)}) s ON s.hk = m.{hk} "
        "WHERE m.BATCH_RANK = 1 AND m.quarantine_reason IS NULL AND (s.current_set_hashdiff IS NULL "
        f"OR (s.current_set_hashdiff <> s.set_hashdiff AND {newer}))"
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


def empty_tables_sql(vault: str) -> str:
    """Which history tables hold no row yet: one cheap statement (each looks at one row)."""
    return " UNION ALL ".join(
        f"SELECT {sql_literal(t)} AS table_name FROM "
        f"(SELECT COUNT(*) AS n FROM (SELECT 1 FROM {quote(vault)}.{quote(t)} LIMIT 1)) WHERE n = 0"
        for t in vault_spec.HISTORY_TABLES
    )


def batch_statements(
    vault: str, landing: str, batch: str, load_ts: str, run_id: str, empty: frozenset[str] = frozenset()
) -> list[Statement]:
    """Every statement that loads ``batch`` from the work tables of ``run_id``, in order:
    quarantine, hubs, links, then the superseded counts, the satellites, the effectivity,
    status tracking and multi-active satellites. A satellite named in ``empty`` had no row
    when the load took its lock (a lake's first load): its rows are inserted without the
    comparison with history, which would find none."""
    out = [Statement(QUARANTINE_TABLE, "quarantine", quarantine_sql(vault, batch, load_ts, run_id))]
    out += [Statement(hub.name, "hub", hub_sql(vault, hub, batch, load_ts, run_id)) for hub in vault_spec.HUBS]
    out += [Statement(link.name, "link", link_sql(vault, link, batch, load_ts, run_id)) for link in vault_spec.LINKS]
    if superseded := superseded_sql(vault, batch, load_ts, run_id, empty):
        out.append(Statement("*", "superseded", superseded))
    out += [
        Statement(s.name, "satellite", satellite_sql(vault, s, batch, load_ts, run_id, s.name in empty))
        for s in vault_spec.SATELLITES
    ]
    out += [
        Statement(e.name, "effectivity", effectivity_sql(vault, e, batch, load_ts, run_id, e.name in empty))
        for e in vault_spec.EFFECTIVITY_SATELLITES
    ]
    out += [
        Statement(t.name, "status", status_sql(vault, landing, t, batch, load_ts, run_id))
        for t in vault_spec.STATUS_SATELLITES
    ]
    out += [
        Statement(m.name, "multi_active", multi_active_sql(vault, m, batch, load_ts, run_id, m.name in empty))
        for m in vault_spec.MULTI_ACTIVE_SATELLITES
    ]
    return out
