"""Right to erasure: what a subject is, and how the lake keeps an erased subject erased.

A subject is a client (``customers``) as the holder of personal data of natural persons:
its primary contact's values in the client's own rows, and its contact people's in the
``contacts`` sets. Every entity with a column of a personal class (``spec.PERSONAL_CLASSES``)
names its subject by a column: the client's key, or the reference to the client.

Erased subjects are listed, by key only, in ``AUDIT.ERASURE_REGISTER``. The staging views
read it: for a registered subject they give NULL for every personal value and a fixed
hashdiff (``ERASED_HASHDIFF``, the MD5 of a constant, which says nothing about any value),
the same one erasure writes over the subject's stored rows. So a re-delivered old file or
a late row is no change to the vault: nothing is inserted and no value comes back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from procedures import spec
from procedures import vault as vault_spec
from procedures.ingest import landing_table
from procedures.sql import quote, sql_literal

SUBJECT_ENTITY = "customers"
REGISTER_TABLE = "ERASURE_REGISTER"
ERASED = "<erased>"
# the hashdiff of an erased row: a constant's, so it cannot be brute-forced into a value
ERASED_HASHDIFF = hashlib.md5(ERASED.encode(), usedforsecurity=False).hexdigest()
ERASED_HASHDIFF_SQL = f"MD5('{ERASED}')"


@dataclass(frozen=True)
class Place:
    """An entity whose rows hold personal values: which column names the subject, and
    which columns are personal."""

    entity: spec.Entity
    subject_column: str
    columns: tuple[str, ...]


def places() -> tuple[Place, ...]:
    out = []
    for entity in spec.ENTITIES:
        personal = tuple(c.name for c in entity.columns if c.personal)
        if not personal:
            continue
        if entity.name == SUBJECT_ENTITY:
            column = entity.key
        else:
            column = next(r.column for r in entity.references if r.entity == SUBJECT_ENTITY)
        out.append(Place(entity, column, personal))
    return tuple(out)


def place(entity: spec.Entity) -> Place | None:
    return next((p for p in places() if p.entity == entity), None)


def erased_member_hashdiff_sql(entity: spec.Entity) -> str:
    """The hashdiff of an erased member of a multi-active set: its key and its attributes
    that are not personal (a contact's role), then the constant. The members of an erased
    set stay apart, the set compares equal when it is delivered again unchanged, and a
    later change of a kept attribute is a change (a new set version), as it is for
    everyone else. Computed alike from a landed row (staging) and a stored member (the
    erasure's UPDATE): the columns have the same names and text."""
    kept = [
        entity.key,
        *(c.name for c in vault_spec.attributes(entity) if c.name != entity.event_column and not c.personal),
    ]
    parts = [f"COALESCE(TRIM(CAST({quote(c)} AS VARCHAR)), '{vault_spec.NULL_PLACEHOLDER}')" for c in kept]
    return "MD5(" + f" || '{vault_spec.DELIMITER}' || ".join(parts) + f" || '{vault_spec.DELIMITER}{ERASED}')"


# the marts that carry personal values (dbt/models/*/_*.yml meta pii of a personal class;
# tests/procedures/test_erasure.py checks this table against them): layer, model, the
# column naming the subject, the personal columns
MARTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "bronze",
        "BRONZE_CUSTOMERS",
        "customer_id",
        ("first_name", "last_name", "email", "phone", "date_of_birth", "tax_id", "address_line", "postal_code"),
    ),
    (
        "silver",
        "SILVER_CUSTOMERS",
        "customer_id",
        (
            "first_name",
            "last_name",
            "contact_name",
            "email",
            "phone",
            "date_of_birth",
            "age",  # derived from the date of birth: personal too
            "tax_id",
            "address_line",
            "postal_code",
        ),
    ),
)


def is_subject(column: str, hk: str) -> str:
    """The rows whose ``column`` names the subject, by the hash recipe (trimmed, upper-cased)."""
    return f"{vault_spec.hash_key_sql([column])} = {sql_literal(hk)}"


def clear_sql(table: str, columns: Sequence[str], where: str) -> str:
    """Every one of ``columns`` set to NULL in the rows ``where`` selects that still hold a
    value in one of them (so the count is of rows actually changed).

    Snowflake answers an UPDATE with one row whose first column is the "number of rows
    updated" (https://docs.snowflake.com/en/sql-reference/sql/update; Snowpark's
    ``UpdateResult(rows_updated, multi_joined_rows_updated)``); the local engine answers
    the same shape, and the callers read ``[0][0]``."""
    cleared = ", ".join(f"{quote(c)} = NULL" for c in columns)
    held = " OR ".join(f"{quote(c)} IS NOT NULL" for c in columns)
    return f"UPDATE {table} SET {cleared} WHERE ({where}) AND ({held})"


def statements(hk: str, schemas: dict[str, str]) -> list[tuple[str, str]]:
    """(place, UPDATE) for every table that can hold the subject's personal values, each
    touching only the subject's rows (found by key, never by value) and counting as
    changed only rows that still held a value: landing rows, the quarantine's and the
    quality exceptions' values quoted from them, the personal and multi-active
    satellites (all history: values set to NULL, hashdiffs to the erased constant, set
    hashdiffs recomputed from them) and the marts."""
    landing, vault, quality = (quote(schemas[k]) for k in ("landing", "vault", "quality"))
    out: list[tuple[str, str]] = []
    for p in places():
        table = f"{landing}.{quote(landing_table(p.entity))}"
        subject_rows = f"SELECT FILE_NAME, FILE_ROW_NUMBER FROM {table} WHERE {is_subject(p.subject_column, hk)}"
        row_of_subject = (
            f"EXISTS (SELECT 1 FROM ({subject_rows}) s "
            "WHERE s.FILE_NAME = t.FILE_NAME AND s.FILE_ROW_NUMBER = t.FILE_ROW_NUMBER)"
        )
        keys = f"SELECT UPPER(TRIM({quote(p.entity.key)})) FROM {table} WHERE {is_subject(p.subject_column, hk)}"
        # values quoted from the subject's rows: a failed cast's reason, a failing value
        out.append(
            (
                f"{schemas['vault']}.QUARANTINE",
                f"UPDATE {vault}.QUARANTINE t SET REASON = SPLIT_PART(REASON, ':', 1) || ' (erased)' "
                f"WHERE t.ENTITY = {sql_literal(p.entity.name)} AND REASON LIKE 'not a % in %: %' "
                f"AND {row_of_subject}",
            )
        )
        out.append(
            (
                f"{schemas['quality']}.RULE_EXCEPTIONS",
                f"UPDATE {quality}.RULE_EXCEPTIONS t SET FAILING_VALUE = NULL WHERE FAILING_VALUE IS NOT NULL "
                f"AND ({row_of_subject} OR UPPER(TRIM(t.FAILING_KEY)) IN ({keys}))",
            )
        )
        out.append(
            (
                f"{schemas['landing']}.{landing_table(p.entity)}",
                clear_sql(table, p.columns, is_subject(p.subject_column, hk)),
            )
        )
    subject_hub = vault_spec.Hub(spec.entity(SUBJECT_ENTITY))
    for sat in vault_spec.PERSONAL_SATELLITES:
        cleared = ", ".join(f"{quote(c.name)} = NULL" for c in sat.payload if c.personal)
        out.append(
            (
                f"{schemas['vault']}.{sat.name.upper()}",
                f"UPDATE {vault}.{quote(sat.name)} SET {cleared}, HASHDIFF = {ERASED_HASHDIFF_SQL} "
                f"WHERE {quote(sat.hub.hash_key)} = {sql_literal(hk)} AND HASHDIFF <> {ERASED_HASHDIFF_SQL}",
            )
        )
    for msat in vault_spec.MULTI_ACTIVE_SATELLITES:
        if msat.hub != subject_hub:
            continue
        name, key = f"{vault}.{quote(msat.name)}", quote(subject_hub.hash_key)
        cleared = ", ".join(f"{quote(c.name)} = NULL" for c in msat.payload if c.personal)
        erased_member = erased_member_hashdiff_sql(msat.entity)
        out.append(
            (
                f"{schemas['vault']}.{msat.name.upper()}",
                f"UPDATE {name} SET {cleared}, HASHDIFF = {erased_member} "
                f"WHERE {key} = {sql_literal(hk)} AND HASHDIFF <> {erased_member}",
            )
        )
        # each set's hashdiff again, from its members' erased hashdiffs: the loader's recipe
        # ("UPDATE <target> SET ... [ FROM <additional_tables> ] [ WHERE <condition> ]",
        # https://docs.snowflake.com/en/sql-reference/sql/update)
        out.append(
            (
                f"{schemas['vault']}.{msat.name.upper()} sets",
                f"UPDATE {name} m SET SET_HASHDIFF = s.set_hashdiff FROM (SELECT {key} AS hk, LOAD_TS AS ts, "
                "MD5(LISTAGG(HASHDIFF, ',') WITHIN GROUP (ORDER BY HASHDIFF)) AS set_hashdiff "
                f"FROM {name} WHERE {key} = {sql_literal(hk)} GROUP BY {key}, LOAD_TS) s "
                f"WHERE m.{key} = s.hk AND m.LOAD_TS = s.ts AND m.SET_HASHDIFF <> s.set_hashdiff",
            )
        )
    for layer, model, column, columns in MARTS:
        table = f"{quote(schemas[layer])}.{model}"
        out.append((f"{schemas[layer]}.{model}", clear_sql(table, columns, is_subject(column, hk))))
    return out


def scrub_sql(landing_schema: str, audit_schema: str, batches: Sequence[str]) -> list[str]:
    """The rows ``batches`` just landed for registered subjects (a file delivered again
    after the erasure, a late row): their personal values set to NULL. Only those
    batches: rows landed before were cleared by the erasure itself."""
    if not batches:
        return []
    register = f"{audit_schema}.{REGISTER_TABLE}"
    landed = ", ".join(sql_literal(b) for b in batches)
    return [
        clear_sql(
            f"{quote(landing_schema)}.{quote(landing_table(p.entity))}",
            p.columns,
            f"BATCH_ID IN ({landed}) AND "
            f"{vault_spec.hash_key_sql([p.subject_column])} IN (SELECT customer_hk FROM {register})",
        )
        for p in places()
    ]
