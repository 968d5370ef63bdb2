"""Control totals: what producers sent, accounted for layer by layer, exactly.

A bank signs numbers only when they balance from source to report. The rules here are
generated from the entity spec (``rule_specs``) and run by VALIDATE_DATA like any other
(``control_total`` in ``procedures/quality.py``); their SQL reads two views per entity that
``make ddl`` writes to ``sql/055_controls.sql``:

* ``LANDING.STG_<ENTITY>_LATEST``: per business key the latest clean landed row, by the
  loader's own rule (the latest business timestamp, then the later batch, file and row):
  the row the vault holds as current. Silver's distributions are compared with it.
* ``VAULT.CTL_<ENTITY>``: every landed row with its disposition in the vault:

  ``QUARANTINED``  in ``VAULT.QUARANTINE`` (its file and row), with the reason;
  ``HELD``         its content (key and hashdiff) is in the satellite, from its batch or an
                   earlier one: loaded, or an unchanged re-delivery;
  ``SUPERSEDED``   clean, not held, and the satellite holds a change of the key at least as
                   new (a duplicate within the batch, an out-of-order change);
  ``MISSING``      none of these: a row the vault lost.

  The money columns are the satellite's values for a held row, the landed (typed) values
  otherwise, so a sum differs when the vault stores another amount than was landed; the
  ``LANDED_`` columns are the landed values. ``IS_LOADED``: the row was ingested before its
  batch's last load (a row ingested since is not the vault's to account for yet).

The rules, per entity (owner: data-platform, severity: error):

* ``vault_<entity>_control_totals``: per batch and currency, rows and the sum of each money
  column landed (``STG_<ENTITY>``, as ``CTL_<ENTITY>`` carries them) equal those accounted
  by the vault (every disposition but MISSING, with the vault's amounts);
* ``silver_<entity>_<column>_distribution``: for every value-set column of an entity with a
  silver model, the count of each standardised value in silver equals landing's latest rows
  of the same keys after the documented mapping (trimmed, upper-case, outside the set
  ``UNKNOWN``). The mapping's own bug (every client in the last segment) fails here.

Silver-to-gold totals are declared in ``procedures/rules/gold.yml``.
"""

from __future__ import annotations

from procedures import spec, vault
from procedures.sql import quote, sql_literal

DISPOSITIONS = ("QUARANTINED", "HELD", "SUPERSEDED", "MISSING")
OWNER = "data-platform"


def latest_view(entity: spec.Entity) -> str:
    return f"{entity.staging_view}_LATEST"


def control_view(entity: spec.Entity) -> str:
    return f"CTL_{entity.name.upper()}"


def controlled() -> tuple[spec.Entity, ...]:
    """The entities whose rows the control totals account for: every one with a satellite
    of its own (a multi-active set is compared as a set, not row by row)."""
    return tuple(e for e in spec.ENTITIES if not e.multi_active)


def _satellite(entity: spec.Entity) -> vault.Satellite:
    return next(s for s in vault.SATELLITES if s.entity.name == entity.name and not s.personal)


def _order(entity: spec.Entity, alias: str = "") -> str:
    return (
        f"{alias}{quote(entity.event_column)} DESC NULLS LAST, {alias}BATCH_ID DESC, {alias}FILE_NAME DESC, "
        f"{alias}FILE_ROW_NUMBER DESC"
    )


# each loaded batch with its last load: a landed row ingested by then is one the vault's
# loads could take (a batch only ingested, loaded into another vault, or re-delivered
# after its load is not yet the vault's)
LOADS = (
    "(SELECT BATCH_ID, MAX(LOAD_TS) AS LOAD_TS FROM <% database %>.<% vault_schema %>.LOADED_BATCHES GROUP BY BATCH_ID)"
)


def latest_view_ddl(entity: spec.Entity) -> str:
    """Of the rows the vault's loads took (``LOADS``), each key's latest clean row, with its
    batch's load_ts."""
    hk = quote(vault.Hub(entity).hash_key)
    landing = "<% database %>.<% landing_schema %>"
    return (
        f"CREATE OR REPLACE VIEW {landing}.{latest_view(entity)}\n"
        f"    COMMENT = 'The latest clean landed row of every {entity.singular} key of a loaded batch: "
        "what the vault holds as current'\n"
        f"AS SELECT s.*, b.LOAD_TS AS BATCH_LOAD_TS FROM {landing}.{entity.staging_view} s\n"
        f"INNER JOIN {LOADS} b ON b.BATCH_ID = s.BATCH_ID\n"
        "WHERE s.QUARANTINE_REASON IS NULL AND s.INGESTED_AT <= b.LOAD_TS\n"
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY s.{hk} ORDER BY {_order(entity, 's.')}) = 1;"
    )


def _currency(entity: spec.Entity, alias: str) -> str:
    column = entity.currency_column
    return f"UPPER({alias}.{quote(column)})" if column else "CAST(NULL AS VARCHAR)"


def control_view_ddl(entity: spec.Entity) -> str:
    sat = _satellite(entity)
    hk = quote(sat.hub.hash_key)
    event = quote(entity.event_column)
    landing = "<% database %>.<% landing_schema %>"
    vault_schema = "<% database %>.<% vault_schema %>"
    table = f"{vault_schema}.{quote(sat.name)}"
    held_money = "".join(f", MIN(h.{quote(c.name)}) AS {quote(c.name)}" for c in entity.money)
    money = "".join(
        f",\n    CASE WHEN h.FIRST_BATCH <= s.BATCH_ID THEN h.{quote(c.name)} ELSE s.{quote(c.name)} END "
        f"AS {quote(c.name)},\n    s.{quote(c.name)} AS LANDED_{quote(c.name)}"
        for c in entity.money
    )
    return (
        f"CREATE OR REPLACE VIEW {vault_schema}.{control_view(entity)}\n"
        f"    COMMENT = 'Every landed {entity.singular} row and what the vault did with it "
        f"({', '.join(DISPOSITIONS)})'\n"
        "AS SELECT\n"
        "    s.BATCH_ID,\n"
        "    s.FILE_NAME,\n"
        "    s.FILE_ROW_NUMBER,\n"
        f"    s.{quote(entity.key)} AS BUSINESS_KEY,\n"
        "    COALESCE(s.INGESTED_AT <= b.LOAD_TS, FALSE) AS IS_LOADED,\n"
        f"    {_currency(entity, 's')} AS CURRENCY,\n"
        "    CASE\n"
        "        WHEN q.FILE_NAME IS NOT NULL THEN 'QUARANTINED'\n"
        "        WHEN s.QUARANTINE_REASON IS NOT NULL THEN 'MISSING'\n"
        "        WHEN h.FIRST_BATCH <= s.BATCH_ID THEN 'HELD'\n"
        f"        WHEN n.NEWEST >= s.{event} OR (n.NEWEST IS NOT NULL AND s.{event} IS NULL) THEN 'SUPERSEDED'\n"
        "        ELSE 'MISSING'\n"
        f"    END AS DISPOSITION{money}\n"
        f"FROM {landing}.{entity.staging_view} s\n"
        f"LEFT JOIN (SELECT DISTINCT BATCH_ID, FILE_NAME, FILE_ROW_NUMBER FROM {vault_schema}.QUARANTINE "
        f"WHERE ENTITY = {sql_literal(entity.name)}) q\n"
        "    ON q.BATCH_ID = s.BATCH_ID AND q.FILE_NAME = s.FILE_NAME AND q.FILE_ROW_NUMBER = s.FILE_ROW_NUMBER\n"
        f"LEFT JOIN {LOADS} b ON b.BATCH_ID = s.BATCH_ID\n"
        f"LEFT JOIN (SELECT h.{hk}, h.HASHDIFF, MIN(h.BATCH_ID) AS FIRST_BATCH{held_money} FROM {table} h "
        f"GROUP BY h.{hk}, h.HASHDIFF) h\n"
        f"    ON h.{hk} = s.{hk} AND h.HASHDIFF = s.{sat.hashdiff_column}\n"
        f"LEFT JOIN (SELECT n.{hk}, MAX(n.{event}) AS NEWEST FROM {table} n GROUP BY n.{hk}) n\n"
        f"    ON n.{hk} = s.{hk};"
    )


def views_ddl() -> str:
    """sql/055_controls.sql."""
    parts = [
        "-- Generated from procedures/spec.py by `make ddl` (procedures/controls.py); do not edit by hand.",
        "-- The views the control totals read: landing's latest row per key, and what the vault did",
        "-- with every landed row.",
        "",
    ]
    for entity in controlled():
        parts += [latest_view_ddl(entity) + "\n", control_view_ddl(entity) + "\n"]
    return "\n".join(parts)


# --------------------------------------------------------------------------- rules


def mapped(column: spec.Column, alias: str = "") -> str:
    """The documented standardisation of a value-set column, as silver applies it (dbt's
    ``standardised`` and ``standardised_code`` macros): trimmed and upper-case when in the
    set, else ``UNKNOWN``; NULL stays NULL."""
    assert column.values
    name = f"{alias}{quote(column.name)}"
    value = f"UPPER(TRIM({name}))"
    listed = ", ".join(sql_literal(v) for v in column.values)
    return f"CASE WHEN {name} IS NULL THEN NULL WHEN {value} IN ({listed}) THEN {value} ELSE 'UNKNOWN' END"


def _totals(entity: spec.Entity, prefix: str = "") -> list[str]:
    return ["COUNT(*)", *(f"SUM({prefix}{quote(c.name)})" for c in entity.money)]


def _watermark(model: str) -> str:
    """The newest vault load a silver model has taken: a batch loaded since is not in it yet."""
    return f"(SELECT MAX(LOAD_TS) FROM {{silver}}.{quote(model)})"


def rule_specs() -> list[tuple[str, dict[str, object]]]:
    """(layer, rule as the rule files declare one) for every generated control rule."""
    specs: list[tuple[str, dict[str, object]]] = []
    for entity in controlled():
        measures = _totals(entity)
        money = " and the sum of " + ", ".join(c.name for c in entity.money) if entity.money else ""
        specs.append(
            (
                "vault",
                {
                    "name": f"vault_{entity.name}_control_totals",
                    "table": control_view(entity).lower(),
                    "type": "control_total",
                    "owner": OWNER,
                    "where": "IS_LOADED AND DISPOSITION <> 'MISSING'",
                    "by": ["BATCH_ID", "CURRENCY"],
                    "measures": measures,
                    # every row landed (the landed amounts), of the loads the vault has run
                    "other": {
                        "table": control_view(entity).lower(),
                        "layer": "vault",
                        "by": ["BATCH_ID", "CURRENCY"],
                        "measures": _totals(entity, "LANDED_"),
                        "where": "IS_LOADED",
                    },
                    "description": (
                        f"Per batch and currency, the {entity.name} rows{money} landed equal those the vault "
                        f"loaded, kept unchanged, superseded or quarantined ({control_view(entity)} names each row)."
                    ),
                },
            )
        )
        if not entity.silver:
            continue
        key = quote(entity.key)
        for column in entity.columns:
            if not column.values:
                continue
            silver_column = column.silver_name or column.name
            specs.append(
                (
                    "silver",
                    {
                        "name": f"{entity.silver}_{silver_column}_distribution",
                        "table": entity.silver,
                        "type": "control_total",
                        "owner": "analytics-engineering",
                        "by": [quote(silver_column)],
                        "measures": ["COUNT(*)"],
                        # both sides leave out the keys changed by a batch silver has not taken yet
                        "where": (
                            f"{key} NOT IN (SELECT {key} FROM {{landing}}.{latest_view(entity)} "
                            f"WHERE BATCH_LOAD_TS > {_watermark(entity.silver)})"
                        ),
                        "other": {
                            "table": latest_view(entity).lower(),
                            "layer": "landing",
                            "by": [mapped(column)],
                            "measures": ["COUNT(*)"],
                            "where": f"{key} IN (SELECT {key} FROM {{silver}}.{quote(entity.silver)}) "
                            f"AND BATCH_LOAD_TS <= {_watermark(entity.silver)}",
                        },
                        "description": (
                            f"Each {silver_column} value counts as many {entity.name} in silver as landing's latest "
                            f"rows of the same keys after the mapping (trimmed, upper-case, else UNKNOWN)."
                        ),
                    },
                )
            )
    return specs
