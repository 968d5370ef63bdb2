"""The business vault's dbt files that follow from the specs: a point-in-time table for
every hub with satellites, their properties, and the reference tables as seeds.
``make ddl`` writes them (lake/generated.py); the snapshot control table
(``as_of_dates``) and the bridge are written by hand beside them.

Reference data (countries, currencies, client segments) ships as dbt seeds, not from a
producer: it is small, changes a few times a year, and is owned by the platform (ISO
lists, the bank's own segment taxonomy), so a reviewed change in git is its audit trail;
its history is kept in the rows (``valid_from``, ``valid_to``).

Why dbt and not LOAD_VAULT: point-in-time and bridge tables are derived entirely from the
raw vault and rebuildable from it, their grain follows a snapshot policy (daily, with a
retention) that analysts tune, and they are read by the marts: dbt builds them
incrementally, tests them and puts them in the lineage, while the loader's transaction
stays as small as the raw vault needs (bench/load_vault.py measures it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import partial
from pathlib import Path

from procedures import spec, vault

DBT = Path(__file__).resolve().parent.parent / "dbt"
FOLDER = DBT / "models" / "business_vault"
SEEDS = DBT / "seeds" / "reference"


def pit_satellites(hub: vault.Hub) -> list[str]:
    """The hub's satellites a point-in-time row points into: descriptive, status tracking
    and multi-active (an effectivity satellite belongs to a link: the bridge reads it)."""
    names = [s.name for s in vault.SATELLITES if s.hub.name == hub.name]
    names += [s.name for s in vault.STATUS_SATELLITES if s.hub.name == hub.name]
    names += [s.name for s in vault.MULTI_ACTIVE_SATELLITES if s.hub.name == hub.name]
    return names


def pit_hubs() -> list[vault.Hub]:
    return [h for h in vault.HUBS if h.entity.point_in_time and pit_satellites(h)]


def pit_name(hub: vault.Hub) -> str:
    return f"pit_{hub.entity.singular}"


def pit_model(hub: vault.Hub) -> str:
    satellites = pit_satellites(hub)
    arguments = ", ".join(f"'{s.upper()}'" for s in satellites)
    return (
        "-- Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.\n"
        f"-- Point in time of {hub.name}: per retained snapshot date, the load_ts of the row of\n"
        f"-- each satellite in effect then ({', '.join(satellites)}).\n"
        f"{{{{ pit('{hub.name.upper()}', '{hub.hash_key}', [{arguments}]) }}}}\n"
    )


def properties() -> str:
    """The business vault's properties file: every model's description and tests."""
    lines = [
        "# Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.",
        "version: 2",
        "",
        "models:",
        "  - name: as_of_dates",
        "    description: >",
        "      The snapshot control table: one row per day from the first loaded batch's date to the",
        "      last, its watermark on the vault's timeline (snapshot_ts) and whether the point-in-time",
        "      and bridge tables keep it (every month-end and the last snapshot_retention_days days).",
        "    columns:",
        "      - name: snapshot_date",
        "        description: The day the snapshot is of.",
        "        data_tests: [unique, not_null]",
        "      - name: snapshot_ts",
        "        description: The load_ts of the latest batch dated on or before snapshot_date.",
        "        data_tests: [not_null]",
        "      - name: is_month_end",
        "        description: The last day of its month.",
        "      - name: is_latest",
        "        description: The date of the latest loaded batch.",
        "      - name: is_retained",
        "        description: Kept by the point-in-time and bridge tables.",
        "  - name: bridge_customer_account_transaction",
        "    description: >",
        "      Per retained snapshot date, each client's accounts held then (the effectivity",
        "      satellite's open relationships at the snapshot) and the transactions booked on them by",
        "      then; the path the gold marts walk.",
        "    columns:",
        "      - name: snapshot_date",
        "        description: The snapshot (as_of_dates).",
        "        data_tests: [not_null, {relationships: {arguments: {to: ref('as_of_dates'), field: snapshot_date}}}]",
        "      - name: snapshot_ts",
        "        description: The snapshot's watermark on the vault's timeline.",
        "      - name: customer_hk",
        "        description: The client holding the account at the snapshot.",
        "        data_tests: [not_null]",
        "      - name: customer_account_hk",
        "        description: The relationship (link_customer_account key).",
        "      - name: account_hk",
        "        description: The account held.",
        "        data_tests: [not_null]",
        "      - name: account_transaction_hk",
        "        description: A transaction booked on it by then (link_account_transaction key), or NULL.",
        "      - name: transaction_hk",
        "        description: That transaction's hub key, or NULL.",
        "      - name: dbt_loaded_at",
        "        description: When dbt wrote the row.",
        "    data_tests:",
        "      - unique_combination: {arguments: {columns: [snapshot_date, account_hk, transaction_hk]}}",
    ]
    for hub in pit_hubs():
        satellites = ", ".join(pit_satellites(hub))
        lines += [
            f"  - name: {pit_name(hub)}",
            "    description: >",
            f"      Point in time of {hub.name} per retained snapshot date: the load_ts of the row of",
            f"      each satellite in effect then ({satellites}); NULL when the key had none yet.",
            "    columns:",
            "      - name: snapshot_date",
            "        description: The snapshot (as_of_dates).",
            "        data_tests: [not_null]",
            "      - name: snapshot_ts",
            "        description: The snapshot's watermark on the vault's timeline.",
            f"      - name: {hub.hash_key}",
            f"        description: The {hub.entity.singular}'s hub key, loaded by the snapshot.",
            "        data_tests: [not_null]",
            *(
                f"      - name: {sat}_load_ts\n        description: load_ts of the {sat} row in effect, or NULL."
                for sat in pit_satellites(hub)
            ),
            "      - name: dbt_loaded_at",
            "        description: When dbt wrote the row.",
            "    data_tests:",
            f"      - unique_combination: {{arguments: {{columns: [snapshot_date, {hub.hash_key}]}}}}",
        ]
    return "\n".join(lines) + "\n"


def seed_csv(table: spec.ReferenceTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(c for c, _ in table.columns), "valid_from", "valid_to"])
    writer.writerows(table.rows)
    return out.getvalue()


def seed_properties() -> str:
    lines = [
        "# Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.",
        "version: 2",
        "",
        "seeds:",
    ]
    for table in spec.REFERENCE_TABLES:
        code = table.columns[0][0]
        types = {c: "varchar" for c, _ in table.columns} | {"valid_from": "date", "valid_to": "date"}
        lines += [
            f"  - name: {table.name}",
            f"    description: {table.description} One row per code and validity; valid_to is empty while current.",
            "    config:",
            "      column_types: {" + ", ".join(f"{c}: {t}" for c, t in types.items()) + "}",
            "    columns:",
            *(f"      - name: {c}\n        description: {d}" for c, d in table.columns),
            "      - name: valid_from",
            "        description: First day the code is valid.",
            "        data_tests: [not_null]",
            "      - name: valid_to",
            "        description: Last day the code is valid; empty while it is.",
            "    data_tests:",
            f"      - unique_combination: {{arguments: {{columns: [{code}, valid_from]}}}}",
        ]
    return "\n".join(lines) + "\n"


def writers() -> dict[Path, Callable[[], str]]:
    """Each generated file and the function that writes it (lake/generated.py's table)."""
    out: dict[Path, Callable[[], str]] = {FOLDER / "_business_vault.yml": properties}
    out[SEEDS / "_reference.yml"] = seed_properties
    out.update({SEEDS / f"{t.name}.csv": partial(seed_csv, t) for t in spec.REFERENCE_TABLES})
    out.update({FOLDER / f"{pit_name(hub)}.sql": partial(pit_model, hub) for hub in pit_hubs()})
    return out
