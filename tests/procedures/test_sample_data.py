"""The generator: reproducible bytes, relationships, the manifest, the layout, bad arguments."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from procedures import landing, spec
from procedures.landing import DirectorySink
from procedures.sample_data import DEFECTS, GenerationError, Plan, generate
from tests.conftest import SMALL, SmallPlan

pytestmark = pytest.mark.unit

LAYOUT = re.compile(
    r"^(?P<producer>crm|finance|operations)/(?P<entity>[a-z][a-z_]*)/load_date=(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?P<file>part-\d{4}\.(parquet|csv|jsonl)|_control\.csv)$"
)
EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read_entity(root: Path, entity: spec.Entity) -> dict[tuple[str, str], pa.Table]:
    """Every data file of an entity: (load_date, file key) -> table."""
    out = {}
    for control in sorted(root.glob(f"{entity.producer}/{entity.name}/load_date=*/_control.csv")):
        for row in csv.DictReader(control.read_text().splitlines()):
            path = control.parent / row["file_name"]
            key = path.relative_to(root).as_posix()
            out[(row["load_date"], key)] = landing.read_back(path.read_bytes(), row["file_format"])  # type: ignore[arg-type]
    return out


def manifest(root: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(root.glob("_generator/manifest/*/manifest.parquet")))


def test_same_seed_writes_identical_bytes(tmp_path: Path, landed_dir: Path) -> None:
    again = tmp_path / "again"
    generate(Plan.build(**SMALL), DirectorySink(str(again)), workers=1)
    assert tree_digest(again) == tree_digest(landed_dir)


def test_another_seed_writes_other_data(tmp_path: Path, landed_dir: Path) -> None:
    other = tmp_path / "other"
    reseeded: SmallPlan = {**SMALL, "seed": SMALL["seed"] + 1}
    generate(Plan.build(**reseeded), DirectorySink(str(other)))
    a, b = tree_digest(landed_dir), tree_digest(other)
    assert a.keys() == b.keys()
    data_files = [k for k in a if "/part-" in k]
    assert all(a[k] != b[k] for k in data_files)


def test_layout_and_control_files(landed_dir: Path) -> None:
    files = [p.relative_to(landed_dir).as_posix() for p in landed_dir.rglob("*") if p.is_file()]
    data = [f for f in files if not f.startswith("_generator/")]
    assert all(LAYOUT.match(f) for f in data), [f for f in data if not LAYOUT.match(f)]
    formats = landing.parse_formats(SMALL["formats"])
    seen = set()
    for f in data:
        m = LAYOUT.match(f)
        assert m
        assert spec.entity(m["entity"]).producer == m["producer"]
        seen.add((m["entity"], m["date"]))
        if m["file"].startswith("part-"):
            assert m["file"].endswith(landing.EXTENSIONS[formats[m["producer"]]])
    assert seen == {(e.name, f"2026-01-0{d}") for e in spec.ENTITIES for d in (5, 6, 7)}
    # each control file lists exactly the data files beside it, with their real counts and checksums
    for control in landed_dir.rglob("_control.csv"):
        rows = list(csv.DictReader(control.read_text().splitlines()))
        beside = sorted(p.name for p in control.parent.glob("part-*"))
        assert sorted(r["file_name"] for r in rows) == beside
        for r in rows:
            body = (control.parent / r["file_name"]).read_bytes()
            assert r["md5"] == hashlib.md5(body).hexdigest()
            assert int(r["bytes"]) == len(body)
            assert int(r["row_count"]) == landing.read_back(body, r["file_format"]).num_rows  # type: ignore[arg-type]
            assert r["batch_id"] == "B" + r["load_date"].replace("-", "")


def test_every_relationship_holds(landed_dir: Path) -> None:
    listed = manifest(landed_dir).to_pylist()
    nulled = {(r["file_name"], r["row_number"]) for r in listed if r["kind"] in ("null_reference", "null_key")}
    keys: dict[str, set[str]] = {}
    refs: list[tuple[spec.Entity, spec.Reference, str, str, int]] = []
    for ent in spec.ENTITIES:
        # a key blanked by a null_key defect was still generated: the manifest names it
        keys[ent.name] = {r["business_key"] for r in listed if r["kind"] == "null_key" and r["entity"] == ent.name}
        for (_, key), table in read_entity(landed_dir, ent).items():
            keys[ent.name].update(v for v in table[ent.key].to_pylist() if v and v.strip())
            for ref in ent.references:
                for i, v in enumerate(table[ref.column].to_pylist()):
                    refs.append((ent, ref, v, key, i + 1))
    checked = 0
    for ent, ref, value, key, row in refs:
        if (key, row) in nulled:
            continue
        assert value in keys[ref.entity], f"{ent.name}.{ref.column}={value!r} ({key} row {row}) has no {ref.entity}"
        checked += 1
    assert checked > 10_000


def test_manifest_matches_the_files(landed_dir: Path) -> None:
    rows = manifest(landed_dir).to_pylist()
    kinds = Counter(r["kind"] for r in rows)
    assert set(DEFECTS) <= set(kinds), kinds
    assert kinds["late_arriving"] > 0 and kinds["out_of_order"] > 0
    tables: dict[str, pa.Table] = {}
    for ent in spec.ENTITIES:
        tables.update({key: t for (_, key), t in read_entity(landed_dir, ent).items()})
    keyless = {(r["file_name"], r["row_number"]) for r in rows if r["kind"] == "null_key"}
    for r in rows:
        if r["row_number"] is None:
            continue  # a key a full snapshot leaves out is in no file (test below)
        table = tables[r["file_name"]]
        got = table.slice(r["row_number"] - 1, 1).to_pylist()[0]
        value = got[r["column_name"]]
        if r["kind"] in ("null_key", "null_reference"):
            assert value is None or not value.strip(), r
        elif r["kind"] == "duplicate":
            originals = [x for x in table.to_pylist() if x == got]
            assert len(originals) >= 2, r
            assert value == r["business_key"]
        elif r["category"] == "defect":
            assert value == r["injected_value"], r
        if r["kind"] != "duplicate" and (r["file_name"], r["row_number"]) not in keyless:
            ent = spec.entity(r["entity"])
            assert got[ent.key] == r["business_key"], r


def test_rows_outside_the_manifest_are_clean(landed_dir: Path) -> None:
    """Every defect is in the manifest: what it does not list passes every check."""
    listed = {(r["file_name"], r["row_number"]) for r in manifest(landed_dir).to_pylist() if r["category"] == "defect"}
    checked = 0
    for ent in spec.ENTITIES:
        for (_load_date, key), table in read_entity(landed_dir, ent).items():
            for i, row in enumerate(table.to_pylist(), start=1):
                if (key, i) in listed:
                    continue
                checked += 1
                assert row[ent.key] and row[ent.key].strip(), (key, i)
                for ref in ent.references:
                    assert row[ref.column], (key, i, ref.column)
                for col in ent.columns:
                    value = row[col.name]
                    if col.values:
                        assert value in col.values, (key, i, col.name, value)
                    if col.type == "DATE":
                        date.fromisoformat(value)
                    if col.type == "TIMESTAMP_NTZ":
                        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
                    if col.type.startswith("NUMBER"):
                        assert float(value) >= 0, (key, i, col.name, value)
                if ent.name == "customers":
                    assert EMAIL.match(row["email"]), row["email"]
    assert checked > 10_000


def test_later_days_change_existing_customers(landed_dir: Path) -> None:
    ent = spec.entity("customers")
    by_day: dict[str, dict[str, dict[str, Any]]] = {}
    for (load_date, _), table in read_entity(landed_dir, ent).items():
        by_day.setdefault(load_date, {}).update({r["customer_id"]: r for r in table.to_pylist() if r["customer_id"]})
    day1, day2 = by_day["2026-01-05"], by_day["2026-01-06"]
    changed = [k for k in day2 if k in day1 and day2[k] != day1[k]]
    new = [k for k in day2 if k not in day1]
    assert len(changed) >= 0.02 * len(day1)
    assert len(new) >= 0.009 * len(day1)
    # an update keeps who the client is and changes what describes them
    for k in changed:
        assert day2[k]["tax_id"] == day1[k]["tax_id"] and day2[k]["first_name"] == day1[k]["first_name"]


def test_late_and_out_of_order_rows_are_older_than_their_batch(landed_dir: Path) -> None:
    for r in manifest(landed_dir).to_pylist():
        if r["category"] != "arrival" or r["injected_value"] in (None, *["2026-02-31", "31/13/2026", "yesterday"]):
            continue
        try:
            event = datetime.strptime(r["injected_value"], "%Y-%m-%d %H:%M:%S").date()
        except ValueError:
            continue  # the same row also carries an unparseable-date defect
        assert event < date.fromisoformat(r["load_date"]), r
        if r["kind"] == "out_of_order":
            assert r["load_date"] >= "2026-01-07"


def test_formats_carry_the_same_values(tmp_path: Path) -> None:
    tables = {}
    for fmt in ("parquet", "csv", "json"):
        root = tmp_path / fmt
        generate(Plan.build(scale=300, days=2, seed=5, formats=fmt), DirectorySink(str(root)))
        tables[fmt] = {
            load_date: t.to_pylist() for (load_date, _), t in read_entity(root, spec.entity("accounts")).items()
        }
    assert tables["json"] == tables["parquet"]

    # CSV cannot tell a null from an empty field: compare with that one difference
    def blank_is_null(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (v or None) for k, v in r.items()} for r in rows]

    assert {d: blank_is_null(r) for d, r in tables["csv"].items()} == {
        d: blank_is_null(r) for d, r in tables["parquet"].items()
    }


def test_workers_do_not_change_output(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    plan = Plan.build(scale=3000, days=2, seed=3, chunk_rows=1000)
    generate(plan, DirectorySink(str(one)), workers=1)
    generate(plan, DirectorySink(str(two)), workers=2)
    assert tree_digest(one) == tree_digest(two)
    assert len(list(one.glob("finance/transactions/load_date=2026-01-05/part-*"))) == 24


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"scale": -5}, "scale must be a whole number of customers >= 1, got -5", id="negative_scale"),
        pytest.param({"scale": 0}, "scale must be", id="zero_scale"),
        pytest.param({"days": 0}, "days must be between 1 and 366, got 0", id="zero_days"),
        pytest.param({"seed": -1}, "seed must be a whole number >= 0", id="negative_seed"),
        pytest.param({"formats": "xml"}, "unknown file format 'xml' in formats='xml'", id="unknown_format"),
        pytest.param({"formats": "hr=csv"}, "unknown producer 'hr'", id="unknown_producer"),
        pytest.param({"start_date": "05/01/2026"}, "start_date must be YYYY-MM-DD, got '05/01/2026'", id="bad_date"),
        pytest.param({"defect_rate": 0.9}, "defect_rate must be between 0 and 0.5, got 0.9", id="defect_rate"),
        pytest.param({"entities": "customers,clients"}, "unknown entity 'clients'", id="unknown_entity"),
    ],
)
def test_bad_arguments_are_named(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(GenerationError, match=re.escape(message)):
        Plan.build(**{"scale": 10, **arguments})


def test_defect_rate_zero_injects_nothing(tmp_path: Path) -> None:
    result = generate(Plan.build(scale=500, days=2, defect_rate=0), DirectorySink(str(tmp_path)))
    assert result.defects == Counter()
    table = pq.read_table(next(tmp_path.glob("_generator/manifest/load_date=2026-01-06/manifest.parquet")))
    assert "defect" not in table["category"].to_pylist()


def test_the_default_run_draws_every_defect_kind(tmp_path: Path) -> None:
    """`make run`'s scale exercises every quality rule: each kind of defect appears (a bad
    e-mail among them, which a random draw at this scale often missed)."""
    for seed in (42, 7):
        result = generate(Plan.build(scale=1000, days=3, seed=seed), DirectorySink(str(tmp_path / str(seed))))
        assert set(result.defects) == set(DEFECTS), seed


def test_dormant_accounts_book_nothing_and_quiet_ones_are_dormant_by_inactivity(landed_dir: Path) -> None:
    """Gold's dormancy rule has two parts, status DORMANT and no booking within the window:
    the data exercises both. An account DORMANT in any version books no transaction, and
    some OPEN or ACTIVE accounts book none either."""
    statuses: dict[str, set[str]] = {}
    for table in read_entity(landed_dir, spec.entity("accounts")).values():
        for account, status in zip(table["account_id"].to_pylist(), table["status"].to_pylist(), strict=True):
            statuses.setdefault(account, set()).add(status)
    booked = {
        account
        for table in read_entity(landed_dir, spec.entity("transactions")).values()
        for account in table["account_id"].to_pylist()
    }
    dormant = {a for a, s in statuses.items() if "DORMANT" in s}
    assert dormant and not dormant & booked
    quiet = {a for a, s in statuses.items() if s <= {"OPEN", "ACTIVE"} and a not in booked}
    assert len(quiet) > 10


def test_the_events_the_vault_structures_record_are_in_the_files(landed_dir: Path) -> None:
    """Accounts move and close, contact sets change, products leave the catalogue and come
    back, and the manifest lists each where the files show it."""
    events = [r for r in manifest(landed_dir).to_pylist() if r["category"] == "event"]
    kinds = Counter(r["kind"] for r in events)
    assert {"account_moved", "account_closed", "contact_set_changed", "product_withdrawn"} <= set(kinds), kinds
    tables: dict[str, pa.Table] = {}
    for ent in spec.ENTITIES:
        tables.update({key: t for (_, key), t in read_entity(landed_dir, ent).items()})
    first_owner = {
        r["account_id"]: r["customer_id"]
        for key, t in tables.items()
        if key.startswith("finance/accounts/load_date=2026-01-05/")
        for r in t.to_pylist()
    }
    catalogue = {
        day: {
            r["product_id"] for key, t in tables.items() if f"/products/load_date={day}/" in key for r in t.to_pylist()
        }
        for day in ("2026-01-05", "2026-01-06", "2026-01-07")
    }
    for r in events:
        if r["kind"] == "product_withdrawn":
            day = r["load_date"]
            before = "2026-01-0" + str(int(day[-1]) - 1)
            assert r["business_key"] not in catalogue[day] and r["business_key"] in catalogue[before], r
            continue
        got = tables[r["file_name"]].slice(r["row_number"] - 1, 1).to_pylist()[0]
        assert got[r["column_name"]] == r["injected_value"], r
        if r["kind"] == "account_moved" and r["business_key"] in first_owner:
            assert got["customer_id"] != first_owner[r["business_key"]], r
        if r["kind"] == "account_closed":
            assert got["status"] == "CLOSED", r
