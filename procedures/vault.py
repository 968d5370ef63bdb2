"""The raw vault, derived from the entity spec: hubs, links, satellites, the hashing
recipe, and their DDL. Adding an entity to ``procedures/spec.py`` adds its hub, its
satellite and a link per reference; nothing here names an entity.

Hashing recipe (one for every table, DESIGN.md "Data Vault conventions"):

* hash key = MD5 of the business key parts, each ``UPPER(TRIM(part))`` (``^^`` when
  null or blank), joined with ``||`` in declared order (a hub: its key; a link: the
  parent key, then the child key), as a 32-character lower-case hex string
  (``VARCHAR(32)``: BINARY(16) does not survive the local engine, hex reads the same in
  both);
* a null or blank *reference* maps to the zero key ``'0' * 32``, whose ghost row in
  every hub carries the business key ``(unknown)``: the link row is kept and the gap
  stays visible. A null or blank *own* business key cannot be identified: the row is
  quarantined;
* hashdiff = MD5 of the satellite's payload columns in declared order, each
  ``TRIM(text)`` with ``^^`` for null, joined with ``||``; not upper-cased (a change of
  case is a change).

The same recipe is implemented twice, as SQL for the engines and in Python
(``hash_key``, ``hashdiff``) for tests that check the engines against it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from procedures import spec
from procedures.sql import create_table_ddl, quote, seed_row_sql, sql_literal

DELIMITER = "||"
NULL_PLACEHOLDER = "^^"
ZERO_KEY = "0" * 32
GHOST_BUSINESS_KEY = "(unknown)"
HASH_TYPE = "VARCHAR(32)"
# Links and satellites of entities at or above this many day-1 rows per customer carry
# cluster keys in Snowflake (the brief's "tables clustered on frequently filtered columns").
LARGE_ENTITIES = frozenset({"transactions", "orders", "interactions"})


class _Keyed(ABC):
    """The naming of a hub or link: the table ``<kind>_<short>``, its key ``<short>_hk``."""

    KIND: ClassVar[str]

    @property
    @abstractmethod
    def short(self) -> str:
        """What the hub or link is named by: the entity's singular, the link's pair."""

    @property
    def name(self) -> str:
        return f"{self.KIND}_{self.short}"

    @property
    def hash_key(self) -> str:
        return f"{self.short}_hk"


@dataclass(frozen=True)
class Hub(_Keyed):
    KIND: ClassVar[str] = "hub"
    entity: spec.Entity

    @property
    def short(self) -> str:
        return self.entity.singular

    @property
    def business_key(self) -> str:
        return self.entity.key


@dataclass(frozen=True)
class Link(_Keyed):
    """A relationship from ``child`` (the entity holding the reference) to ``parent``."""

    KIND: ClassVar[str] = "link"
    child: spec.Entity
    reference: spec.Reference

    @property
    def parent(self) -> spec.Entity:
        return spec.entity(self.reference.entity)

    @property
    def short(self) -> str:
        return self.reference.link or f"{self.parent.singular}_{self.child.singular}"

    @property
    def hubs(self) -> tuple[tuple[Hub, str], ...]:
        """(hub, the child's column holding that hub's business key), parent first."""
        return ((Hub(self.parent), self.reference.column), (Hub(self.child), self.child.key))

    @property
    def large(self) -> bool:
        return self.child.name in LARGE_ENTITIES


class _OnEntityHub:
    """A satellite of an entity's own hub."""

    entity: spec.Entity

    @property
    def hub(self) -> Hub:
        return Hub(self.entity)


@dataclass(frozen=True)
class Satellite(_OnEntityHub):
    """An entity's descriptive attributes, insert-only, one row per change.

    ``personal``: the entity's personal attributes (the columns whose PII class is a
    person's, ``spec.PERSONAL_CLASSES``), kept apart from the others so that erasing a
    person overwrites this satellite's rows and leaves every other fact, key and audit
    column as loaded. It
    carries the entity's business timestamp too (the late-row rule needs it) but its
    hashdiff leaves the timestamp out: a row is added when a personal value changes, not
    whenever the record is re-stamped."""

    entity: spec.Entity
    personal: bool = False

    @property
    def name(self) -> str:
        return f"sat_{self.entity.singular}{'_pii' if self.personal else ''}"

    @property
    def payload(self) -> tuple[spec.Column, ...]:
        """The descriptive columns (everything but the business key, the references and
        the personal columns), or the personal ones and the business timestamp."""
        if self.personal:
            return tuple(c for c in self.entity.columns if c.personal or c.name == self.entity.event_column)
        return tuple(c for c in attributes(self.entity) if not c.personal)

    @property
    def compared(self) -> tuple[str, ...]:
        """The columns its hashdiff covers."""
        if self.personal:
            return tuple(c.name for c in self.payload if c.name != self.entity.event_column)
        return tuple(c.name for c in self.payload)

    @property
    def hashdiff_column(self) -> str:
        """The staging view's column with this satellite's hashdiff."""
        return "HASHDIFF_PII" if self.personal else "HASHDIFF"

    @property
    def large(self) -> bool:
        return self.entity.name in LARGE_ENTITIES


def attributes(entity: spec.Entity) -> tuple[spec.Column, ...]:
    """Every landed column but the business key and the references: what staging types
    and the satellites (descriptive and personal) share between them."""
    keys = {entity.key, *(r.column for r in entity.references)}
    return tuple(c for c in entity.columns if c.name not in keys)


@dataclass(frozen=True)
class EffectivitySatellite:
    """When each relationship of a link held: the link's child is the driving key, with
    one parent at a time. Insert-only, one row per observed start or end:

    * a new relationship inserts a row with ``start_at`` its business timestamp and
      ``end_at`` the end of time;
    * a relationship replaced by another for the same driving key (an account moved to
      another client), or ended by the entity's ``ends_relationship`` value (the account
      closed), inserts a row for the old relationship with the same ``start_at`` and
      ``end_at`` set;
    * a relationship's latest row is its state: open while ``end_at`` is the end of time.
    """

    link: Link

    @property
    def name(self) -> str:
        return f"eff_sat_{self.link.short}"

    @property
    def driving_key(self) -> Hub:
        return Hub(self.link.child)

    @property
    def other_key(self) -> Hub:
        return Hub(self.link.parent)


@dataclass(frozen=True)
class StatusSatellite(_OnEntityHub):
    """Status tracking for an entity delivered as full snapshots: one row per change of a
    key's presence, ``PRESENT`` when first seen, ``DELETED`` when a complete snapshot
    lacks it, ``REAPPEARED`` when it comes back."""

    entity: spec.Entity

    @property
    def name(self) -> str:
        return f"sts_{self.entity.singular}"


@dataclass(frozen=True)
class MultiActiveSatellite:
    """The whole active set of a multi-active entity per parent key: every row of a set
    carries the set's load timestamp and its ``set_hashdiff``; a new set is inserted only
    when its set hashdiff differs from the current set's (compared as a set)."""

    entity: spec.Entity

    @property
    def name(self) -> str:
        return f"msat_{self.hub.entity.singular}_{self.entity.singular}"

    @property
    def reference(self) -> spec.Reference:
        return self.entity.references[0]

    @property
    def hub(self) -> Hub:
        return Hub(spec.entity(self.reference.entity))

    @property
    def member_key(self) -> str:
        """The column that tells the set's members apart (the multi-active key)."""
        return self.entity.key

    @property
    def payload(self) -> tuple[spec.Column, ...]:
        return tuple(c for c in self.entity.columns if c.name not in (self.entity.key, self.reference.column))


HUBS: tuple[Hub, ...] = tuple(Hub(e) for e in spec.ENTITIES if not e.multi_active)
LINKS: tuple[Link, ...] = tuple(Link(e, r) for e in spec.ENTITIES if not e.multi_active for r in e.references)
# per entity its descriptive satellite, then its personal one if any column is a person's data
SATELLITES: tuple[Satellite, ...] = tuple(
    Satellite(e, personal)
    for e in spec.ENTITIES
    if not e.multi_active
    for personal in (False, True)
    if not personal or any(c.personal for c in e.columns)
)
PERSONAL_SATELLITES: tuple[Satellite, ...] = tuple(s for s in SATELLITES if s.personal)
EFFECTIVITY_SATELLITES: tuple[EffectivitySatellite, ...] = tuple(
    EffectivitySatellite(link) for link in LINKS if link.reference.effectivity
)
STATUS_SATELLITES: tuple[StatusSatellite, ...] = tuple(StatusSatellite(e) for e in spec.ENTITIES if e.snapshot)
MULTI_ACTIVE_SATELLITES: tuple[MultiActiveSatellite, ...] = tuple(
    MultiActiveSatellite(e) for e in spec.ENTITIES if e.multi_active
)
# every reference that brings a business key into a hub: the links' and the multi-active sets'
REFERENCES: tuple[tuple[spec.Entity, spec.Reference], ...] = tuple((e, r) for e in spec.ENTITIES for r in e.references)


def hub_of(entity: spec.Entity) -> Hub:
    """The hub an entity's rows hang from: its own, or a multi-active set's parent's."""
    return MultiActiveSatellite(entity).hub if entity.multi_active else Hub(entity)


# the effectivity, status tracking and multi-active satellites, in load order
STRUCTURES: tuple[str, ...] = (
    *(s.name for s in EFFECTIVITY_SATELLITES),
    *(s.name for s in STATUS_SATELLITES),
    *(s.name for s in MULTI_ACTIVE_SATELLITES),
)
# every table a load compares with history: satellites of every kind (hubs and links are
# checked by key alone)
HISTORY_TABLES: tuple[str, ...] = (*(s.name for s in SATELLITES), *STRUCTURES)


def tables() -> tuple[str, ...]:
    """Every table the vault loads data into, in load order (quarantine and bookkeeping aside)."""
    return (*(h.name for h in HUBS), *(k.name for k in LINKS), *HISTORY_TABLES)


# --------------------------------------------------------------------------- the recipe in SQL


def _key_part(column: str) -> str:
    return f"COALESCE(NULLIF(UPPER(TRIM({quote(column)})), ''), '{NULL_PLACEHOLDER}')"


def hash_key_sql(columns: Sequence[str]) -> str:
    """MD5 of the business key parts, as in the recipe."""
    joined = f" || '{DELIMITER}' || ".join(_key_part(c) for c in columns)
    return f"MD5({joined})"


def reference_key_sql(column: str) -> str:
    """A reference's hash key, or the zero key when it is null or blank."""
    return f"CASE WHEN NULLIF(TRIM({quote(column)}), '') IS NULL THEN '{ZERO_KEY}' ELSE {hash_key_sql([column])} END"


def hashdiff_sql(columns: Sequence[str]) -> str:
    parts = [f"COALESCE(TRIM(CAST({quote(c)} AS VARCHAR)), '{NULL_PLACEHOLDER}')" for c in columns]
    return "MD5(" + f" || '{DELIMITER}' || ".join(parts) + ")"


# --------------------------------------------------------------------------- the recipe in Python


def _part(value: str | None) -> str:
    text = "" if value is None else value.strip().upper()
    return text or NULL_PLACEHOLDER


def hash_key(*parts: str | None) -> str:
    """The recipe's hash key of business key parts."""
    return hashlib.md5(DELIMITER.join(_part(p) for p in parts).encode(), usedforsecurity=False).hexdigest()


def reference_key(value: str | None) -> str:
    return ZERO_KEY if value is None or not value.strip() else hash_key(value)


def hashdiff(values: Sequence[str | None]) -> str:
    text = DELIMITER.join(NULL_PLACEHOLDER if v is None else v.strip() for v in values)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- DDL

AUDIT_COLUMNS = (
    ("load_ts", "TIMESTAMP_NTZ NOT NULL", "When the batch was loaded: one value per batch."),
    ("record_source", "VARCHAR NOT NULL", "Producer and file the row came from."),
    ("batch_id", "VARCHAR NOT NULL", "Landing batch, e.g. B20260105."),
)


def _table(name: str, columns: list[tuple[str, str]], comment: str, cluster: Sequence[str] = ()) -> str:
    return create_table_ddl("vault", name, columns, comment, cluster)


def _audit() -> list[tuple[str, str]]:
    return [(c, kind) for c, kind, _ in AUDIT_COLUMNS]


def _audit_after_load_ts() -> list[tuple[str, str]]:
    """The audit columns a satellite ends with (its load_ts comes right after its key)."""
    return [(c, kind) for c, kind in _audit() if c != "load_ts"]


def ghost_row_sql(hub: Hub) -> str:
    """The hub's ghost row (the zero key), inserted once with the table, so a link whose
    reference is null always has a hub row to point at."""
    table = f"<% database %>.<% vault_schema %>.{quote(hub.name)}"
    return (
        f"INSERT INTO {table} ({quote(hub.hash_key)}, {quote(hub.business_key)}, LOAD_TS, RECORD_SOURCE, BATCH_ID)\n"
        f"    SELECT '{ZERO_KEY}', {sql_literal(GHOST_BUSINESS_KEY)}, CAST('1900-01-01' AS TIMESTAMP_NTZ), "
        "'SYSTEM.ghost', 'SYSTEM'\n"
        f"    WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {quote(hub.hash_key)} = '{ZERO_KEY}');"
    )


def hub_ddl(hub: Hub) -> str:
    return _table(
        hub.name,
        [(hub.hash_key, f"{HASH_TYPE} NOT NULL"), (hub.business_key, "VARCHAR NOT NULL"), *_audit()],
        f"Hub of {hub.entity.name} business keys. {hub.entity.description}",
    )


def link_ddl(link: Link) -> str:
    columns = [(link.hash_key, f"{HASH_TYPE} NOT NULL")]
    columns += [(hub.hash_key, f"{HASH_TYPE} NOT NULL") for hub, _ in link.hubs]
    cluster = [link.hubs[0][0].hash_key, "load_ts"] if link.large else []
    return _table(
        link.name,
        [*columns, *_audit()],
        f"Link {link.parent.singular} -> {link.child.singular}, from {link.child.name}.{link.reference.column}.",
        cluster,
    )


def _history(
    name: str, keys: Sequence[str], columns: list[tuple[str, str]], comment: str, cluster: Sequence[str] = ()
) -> str:
    """A table of insert-only history rows: its hash ``keys`` and load_ts (NOT NULL), its own
    ``columns``, then the audit columns."""
    keyed = [*((key, f"{HASH_TYPE} NOT NULL") for key in keys), ("load_ts", "TIMESTAMP_NTZ NOT NULL")]
    return _table(name, [*keyed, *columns, *_audit_after_load_ts()], comment, cluster)


def satellite_ddl(sat: Satellite) -> str:
    columns = [("hashdiff", f"{HASH_TYPE} NOT NULL"), *((c.name, c.type) for c in sat.payload)]
    cluster = [sat.hub.hash_key, "load_ts"] if sat.large else []
    return _history(
        sat.name,
        [sat.hub.hash_key],
        columns,
        f"Personal attributes of {sat.entity.name} (PII), apart so an erasure overwrites them alone; "
        "insert-only otherwise, one row per change."
        if sat.personal
        else f"Descriptive attributes of {sat.entity.name}, insert-only, one row per change.",
        cluster,
    )


def effectivity_ddl(eff: EffectivitySatellite) -> str:
    hash_columns = [eff.link.hash_key, eff.driving_key.hash_key, eff.other_key.hash_key]
    periods = [("start_at", "TIMESTAMP_NTZ"), ("end_at", "TIMESTAMP_NTZ NOT NULL"), ("changed_at", "TIMESTAMP_NTZ")]
    return _history(
        eff.name,
        hash_columns,
        periods,
        f"Effectivity of {eff.link.name}: when each {eff.link.child.singular} belonged to which "
        f"{eff.link.parent.singular}; insert-only, end_at {END_OF_TIME[:10]} while open.",
    )


def status_ddl(sts: StatusSatellite) -> str:
    return _history(
        sts.name,
        [sts.hub.hash_key],
        [("status", "VARCHAR NOT NULL")],
        f"Status tracking of {sts.entity.name} from complete snapshots: PRESENT, DELETED, REAPPEARED.",
    )


def multi_active_ddl(msat: MultiActiveSatellite) -> str:
    hashdiffs = [("hashdiff", f"{HASH_TYPE} NOT NULL"), ("set_hashdiff", f"{HASH_TYPE} NOT NULL")]
    return _history(
        msat.name,
        [msat.hub.hash_key],
        [(msat.member_key, "VARCHAR NOT NULL"), *hashdiffs, *((c.name, c.type) for c in msat.payload)],
        f"The active set of {msat.entity.name} per {msat.hub.entity.singular}: one row per member "
        "per changed set, all with the load_ts of the set.",
    )


def current_view_ddl(sat: Satellite) -> str:
    """Every satellite row with its validity, derived (never updated in place): a row is
    valid from its load until the key's next row; the last one is current and valid to
    9999-12-31 (a date, not NULL, so range joins stay simple)."""
    hk = quote(sat.hub.hash_key)
    table = f"<% database %>.<% vault_schema %>.{quote(sat.name)}"
    is_current = f"LEAD(s.LOAD_TS) OVER (PARTITION BY s.{hk} ORDER BY s.LOAD_TS) IS NULL"
    deleted, join, described = "", "", "valid_from, valid_to and is_current"
    if sat.entity.snapshot:
        # a snapshot entity's current row says whether the latest complete snapshot lacked it
        sts = StatusSatellite(sat.entity)
        deleted = f",\n    ({is_current}) AND COALESCE(st.STATUS = 'DELETED', FALSE) AS IS_DELETED"
        join = f"\nLEFT JOIN <% database %>.<% vault_schema %>.{quote(sts.name)}_CURRENT st ON st.{hk} = s.{hk}"
        described = "valid_from, valid_to, is_current and is_deleted"
    return (
        f"CREATE OR REPLACE VIEW {table}_CURRENT\n"
        f"    COMMENT = 'Rows of {sat.name} with {described}'\n"
        f"AS SELECT\n    s.*,\n    s.LOAD_TS AS VALID_FROM,\n"
        f"    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.{hk} ORDER BY s.LOAD_TS), {END_OF_TIME_SQL}) AS VALID_TO,\n"
        f"    {is_current} AS IS_CURRENT{deleted}\n"
        f"FROM {table} s{join};"
    )


def latest_view_ddl(structure: EffectivitySatellite | StatusSatellite | MultiActiveSatellite) -> str:
    """The current view of an effectivity, status or multi-active satellite: per key its
    latest rows (for an effectivity satellite, only if the relationship is open)."""
    if isinstance(structure, EffectivitySatellite):
        hk, alias, select = quote(structure.link.hash_key), "e", "e.*"
        comment = f"Open relationships of {structure.link.name}: one per {structure.driving_key.entity.singular}"
        latest = f"ROW_NUMBER() OVER (PARTITION BY e.{hk} ORDER BY e.LOAD_TS DESC) = 1 AND e.END_AT = {END_OF_TIME_SQL}"
    elif isinstance(structure, StatusSatellite):
        hk, alias, select = quote(structure.hub.hash_key), "t", "t.*, t.STATUS = 'DELETED' AS IS_DELETED"
        comment = f"The latest status of every {structure.entity.singular} key"
        latest = f"ROW_NUMBER() OVER (PARTITION BY t.{hk} ORDER BY t.LOAD_TS DESC) = 1"
    else:
        hk, alias, select = quote(structure.hub.hash_key), "m", "m.*"
        comment = f"The current set of {structure.entity.name} of every {structure.hub.entity.singular}"
        latest = f"m.LOAD_TS = MAX(m.LOAD_TS) OVER (PARTITION BY m.{hk})"
    table = f"<% database %>.<% vault_schema %>.{quote(structure.name)}"
    return (
        f"CREATE OR REPLACE VIEW {table}_CURRENT\n"
        f"    COMMENT = '{comment}'\n"
        f"AS SELECT {select} FROM {table} {alias}\n"
        f"QUALIFY {latest};"
    )


END_OF_TIME = "9999-12-31 00:00:00"
END_OF_TIME_SQL = f"CAST('{END_OF_TIME}' AS TIMESTAMP_NTZ)"


def views_ddl() -> str:
    """Current views of every satellite, as in sql/050_vault_views.sql (the point-in-time
    and bridge tables are dbt's business vault: dbt/models/business_vault)."""
    parts = [
        "-- Generated from procedures/spec.py by `make ddl`; do not edit by hand.",
        "",
        *(latest_view_ddl(s) + "\n" for s in STATUS_SATELLITES),
        *(current_view_ddl(s) + "\n" for s in SATELLITES),
        *(latest_view_ddl(s) + "\n" for s in EFFECTIVITY_SATELLITES),
        *(latest_view_ddl(s) + "\n" for s in MULTI_ACTIVE_SATELLITES),
    ]
    return "\n".join(parts)


def ddl() -> str:
    """The whole raw vault's DDL, as shipped in sql/040_vault.sql."""
    lock = "<% database %>.<% vault_schema %>.LOAD_LOCK"
    parts = [
        "-- Generated from procedures/spec.py by `make ddl`; do not edit by hand",
        "-- (tests/procedures/test_vault.py fails when this file and the spec disagree).",
        "-- Hubs, links and satellites of the raw vault; hashing recipe in procedures/vault.py.",
        "-- Links and satellites of the large entities carry cluster keys (hash key, load_ts):",
        "-- loads and point-in-time queries filter on both. The local engine ignores them.",
        "",
        *(hub_ddl(h) + "\n" + ghost_row_sql(h) + "\n" for h in HUBS),
        *(link_ddl(link) + "\n" for link in LINKS),
        *(satellite_ddl(s) + "\n" for s in SATELLITES),
        *(effectivity_ddl(s) + "\n" for s in EFFECTIVITY_SATELLITES),
        *(status_ddl(s) + "\n" for s in STATUS_SATELLITES),
        *(multi_active_ddl(s) + "\n" for s in MULTI_ACTIVE_SATELLITES),
        _table(
            "quarantine",
            [
                ("entity", "VARCHAR NOT NULL"),
                ("batch_id", "VARCHAR NOT NULL"),
                ("file_name", "VARCHAR NOT NULL"),
                ("file_row_number", "NUMBER(38,0) NOT NULL"),
                ("business_key", "VARCHAR"),
                ("reason", "VARCHAR NOT NULL"),
                ("load_ts", "TIMESTAMP_NTZ NOT NULL"),
            ],
            "Landed rows the vault could not take, with the reason; the landing row stays in LANDING.",
        )
        + "\n",
        _table(
            "loaded_batches",
            [
                ("batch_id", "VARCHAR NOT NULL"),
                ("load_ts", "TIMESTAMP_NTZ NOT NULL"),
                ("run_id", "VARCHAR NOT NULL"),
                ("landed_rows", "NUMBER(38,0) NOT NULL"),
            ],
            "Batches LOAD_VAULT has committed, with their one load timestamp and the landed rows they covered.",
        )
        + "\n",
        _table(
            "load_lock",
            [
                ("lock_name", "VARCHAR NOT NULL"),
                ("run_id", "VARCHAR"),
                ("batch_id", "VARCHAR"),
                ("locked_at", "TIMESTAMP_NTZ"),
            ],
            "One row that each LOAD_VAULT transaction updates first, so loads run one at a time.",
        )
        + "\n",
        seed_row_sql(lock, "LOCK_NAME", "LOAD_VAULT"),
    ]
    return "\n".join(parts)
