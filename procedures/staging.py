"""Staging: typed views over the landing tables, one per entity, derived from the spec.

Each view ``LANDING.STG_<ENTITY>`` carries, for every landed row:

* the hub hash key of the row's own business key, the hub hash key of each reference
  (the zero key when the reference is null or blank) and each link's hash key;
* every payload column cast to its spec type with TRY_CAST, and per satellite the
  hashdiff of the landed text of its columns: ``HASHDIFF`` for the descriptive one,
  ``HASHDIFF_PII`` for the personal one (see ``procedures/vault.py`` for the recipe);
* ``quarantine_reason``: why the row cannot enter the vault, or NULL. A row is
  quarantined when its file lacked a spec column (schema drift: every spec column is
  required; ingestion recorded which), when its own business key is null or blank, or
  when a non-empty value does not cast to its column's type (the first such column is
  named). Value-set, range and
  format rules (a negative amount, an unknown status) are data-quality rules, not
  typing: those rows enter the vault and the rules report them;
* the lineage: record source, batch, file and row number.

So for every batch and entity: rows landed = rows staged clean + rows quarantined.
"""

from __future__ import annotations

from procedures import erasure, spec, vault
from procedures.ingest import landing_table
from procedures.sql import quote


def view_name(entity: spec.Entity) -> str:
    return entity.staging_view


def _typed(column: spec.Column) -> str:
    name = quote(column.name)
    if column.type == "VARCHAR":
        return f"NULLIF(TRIM({name}), '')"
    return f"TRY_CAST(NULLIF(TRIM({name}), '') AS {column.type})"


def quarantine_reason_sql(entity: spec.Entity) -> str:
    key = quote(entity.key)
    cases = [
        "WHEN MISSING_COLUMNS IS NOT NULL THEN 'file lacks required column(s): ' || MISSING_COLUMNS",
        f"WHEN NULLIF(TRIM({key}), '') IS NULL THEN 'null or blank business key {entity.key}'",
    ]
    if entity.multi_active:
        # a member of a set belongs to its parent: without one there is no set to join
        parent = entity.references[0]
        cases.append(
            f"WHEN NULLIF(TRIM({quote(parent.column)}), '') IS NULL THEN 'null or blank parent key {parent.column}'"
        )
    for column in entity.columns:
        if column.type == "VARCHAR":
            continue
        name = quote(column.name)
        # a person's value is not repeated in the reason (the landing row keeps it, and an
        # erasure overwrites it there)
        shown = " (a personal value)'" if column.personal else f": ' || {name}"
        cases.append(
            f"WHEN NULLIF(TRIM({name}), '') IS NOT NULL AND {_typed(column)} IS NULL "
            f"THEN 'not a {column.type} in {column.name}{shown}"
        )
    return "CASE\n        " + "\n        ".join(cases) + "\n        END"


def view_ddl(entity: spec.Entity) -> str:
    hub = vault.Hub(entity)
    lines = [
        f"{vault.hash_key_sql([entity.key])} AS {quote(hub.hash_key)}",
        f"NULLIF(TRIM({quote(entity.key)}), '') AS {quote(entity.key)}",
    ]
    links = {link.reference.column: link for link in vault.LINKS if link.child.name == entity.name}
    for reference in entity.references:
        parent_hub = vault.Hub(spec.entity(reference.entity))
        lines.append(f"{vault.reference_key_sql(reference.column)} AS {quote(parent_hub.hash_key)}")
        lines.append(f"NULLIF(TRIM({quote(reference.column)}), '') AS {quote(reference.column)}")
        if link := links.get(reference.column):
            lines.append(f"{vault.hash_key_sql([reference.column, entity.key])} AS {quote(link.hash_key)}")
    # an erased subject's rows (procedures/erasure.py): no personal value, a fixed hashdiff
    erasable = erasure.place(entity)
    erased = "ERASED_HK IS NOT NULL"

    def kept(expression: str, erased_value: str = "NULL") -> str:
        return f"CASE WHEN {erased} THEN {erased_value} ELSE {expression} END" if erasable else expression

    # a set member's hashdiff covers who the member is (its key first) and leaves out when
    # the set was said to change: the same members with the same attributes are the same
    # set, whatever timestamp the producer stamps
    if entity.multi_active:
        compared = [entity.key, *(c.name for c in vault.attributes(entity) if c.name != entity.event_column)]
        erased_member = erasure.erased_member_hashdiff_sql(entity)
        lines.append(f"{kept(vault.hashdiff_sql(compared), erased_member)} AS HASHDIFF")
    for satellite in (s for s in vault.SATELLITES if s.entity == entity):
        hashdiff = vault.hashdiff_sql(satellite.compared)
        if satellite.personal:
            hashdiff = kept(hashdiff, erasure.ERASED_HASHDIFF_SQL)
        lines.append(f"{hashdiff} AS {satellite.hashdiff_column}")
    lines += [f"{kept(_typed(c)) if c.personal else _typed(c)} AS {quote(c.name)}" for c in vault.attributes(entity)]
    lines.append(f"{quarantine_reason_sql(entity)} AS QUARANTINE_REASON")
    lines.append(f"'{entity.producer}.{entity.name}' AS RECORD_SOURCE")
    lines += ["BATCH_ID", "FILE_NAME", "FILE_ROW_NUMBER", "INGESTED_AT"]
    body = ",\n    ".join(lines)
    source = f"<% database %>.<% landing_schema %>.{landing_table(entity)}"
    if erasable:
        # DISTINCT: a subject erased twice is still one row of the landing table
        source += (
            f"\nLEFT JOIN (SELECT DISTINCT customer_hk AS ERASED_HK "
            f"FROM <% database %>.<% audit_schema %>.{erasure.REGISTER_TABLE}) AS erased "
            f"ON erased.ERASED_HK = {vault.hash_key_sql([erasable.subject_column])}"
        )
    return (
        f"CREATE OR REPLACE VIEW <% database %>.<% landing_schema %>.{view_name(entity)}\n"
        f"    COMMENT = 'Typed {entity.name} with hash keys, hashdiff and quarantine reason'\n"
        f"AS SELECT\n    {body}\n"
        f"FROM {source};"
    )


def ddl() -> str:
    parts = [
        "-- Generated from procedures/spec.py by `make ddl`; do not edit by hand",
        "-- (tests/procedures/test_staging.py fails when this file and the spec disagree).",
        "",
    ]
    parts += [view_ddl(e) + "\n" for e in spec.ENTITIES]
    return "\n".join(parts)
