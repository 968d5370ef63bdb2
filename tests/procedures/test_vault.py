"""The raw vault derived from the spec: names, DDL, and one hashing recipe on every engine."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from procedures import spec, vault

BRIEF_HUBS = {"customer", "account", "transaction", "order", "product", "interaction", "opportunity"}
# hubs the brief does not name, each added by an issue: exchange-rate fixings (money in one
# reporting currency)
ADDED_HUBS = {"exchange_rate"}
BRIEF_LINKS = {
    "customer_account",
    "account_transaction",
    "customer_order",
    "order_product",
    "customer_interaction",
    "customer_opportunity",
}


@pytest.mark.unit
def test_the_brief_names() -> None:
    assert {h.name for h in vault.HUBS} == {f"hub_{n}" for n in BRIEF_HUBS | ADDED_HUBS}
    assert {link.name for link in vault.LINKS} == {f"link_{n}" for n in BRIEF_LINKS}
    descriptive = {s.name for s in vault.SATELLITES if not s.personal}
    assert descriptive == {f"sat_{n}" for n in BRIEF_HUBS | ADDED_HUBS}
    # a person's data lives apart, beside the descriptive satellite of the same hub
    assert {s.name for s in vault.PERSONAL_SATELLITES} == {"sat_customer_pii"}


@pytest.mark.unit
def test_every_landed_column_has_one_home() -> None:
    for ent in spec.ENTITIES:
        homes = [ent.key]
        homes += [r.column for r in ent.references]
        homes += [c.name for s in vault.SATELLITES if s.entity == ent for c in s.payload]
        if ent.multi_active:
            homes += [c.name for c in vault.MultiActiveSatellite(ent).payload]
        # the business timestamp is in both satellites of an entity with personal data
        twice = [ent.event_column] if any(s.personal and s.entity == ent for s in vault.SATELLITES) else []
        assert sorted(homes) == sorted([*ent.column_names, *twice]), ent.name


@pytest.mark.unit
def test_personal_values_only_in_the_personal_satellite_whose_hashdiff_ignores_restamps() -> None:
    for sat in vault.SATELLITES:
        personal = {c.name for c in sat.payload if c.personal}
        if sat.personal:
            assert personal and set(sat.compared) == personal, sat.name
        else:
            assert not personal, sat.name


@pytest.mark.unit
def test_large_links_and_satellites_are_clustered() -> None:
    for link in vault.LINKS:
        assert ("CLUSTER BY" in vault.link_ddl(link)) == (link.child.name in vault.LARGE_ENTITIES), link.name
    for sat in vault.SATELLITES:
        assert ("CLUSTER BY (TRANSACTION_HK, LOAD_TS)" in vault.satellite_ddl(sat)) == (sat.name == "sat_transaction")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("parts", "text"),
    [
        pytest.param((" c000000001 ",), "C000000001", id="trim_and_upper"),
        pytest.param(("C1", "a7"), "C1||A7", id="link_parent_first"),
        pytest.param((None, "A7"), "^^||A7", id="null_reference_part"),
        pytest.param(("  ", "A7"), "^^||A7", id="blank_reference_part"),
    ],
)
def test_hash_key_recipe(parts: tuple[str | None, ...], text: str) -> None:
    assert vault.hash_key(*parts) == hashlib.md5(text.encode()).hexdigest()


@pytest.mark.unit
def test_zero_key_and_hashdiff() -> None:
    assert vault.reference_key(None) == vault.reference_key(" ") == vault.ZERO_KEY == "0" * 32
    assert vault.reference_key(" c1") == vault.hash_key("C1")
    assert vault.hashdiff([None, " Smith ", "smith"]) == hashlib.md5(b"^^||Smith||smith").hexdigest()


SAMPLES = [
    ("c000000001", " Smith ", None),
    ("  C000000001  ", "smith", "O'Brien"),
    ("", "Zoë", "x||y"),
    (None, None, None),
    ("'; DROP TABLE x; --", "Müller", "^^"),
]


@pytest.mark.integration
def test_the_engine_hashes_as_the_recipe(conn: Any) -> None:
    values = ", ".join(
        "(" + ", ".join("NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in row) + ")" for row in SAMPLES
    )
    cur = conn.cursor()
    cur.execute(
        f"SELECT {vault.hash_key_sql(['k'])}, {vault.reference_key_sql('k')}, {vault.hash_key_sql(['k', 'a'])}, "
        f"{vault.hashdiff_sql(['a', 'b'])} FROM (VALUES {values}) AS t(k, a, b)"
    )
    got = cur.fetchall()
    expected = [
        (vault.hash_key(k), vault.reference_key(k), vault.hash_key(k, a), vault.hashdiff([a, b])) for k, a, b in SAMPLES
    ]
    assert got == expected


@pytest.mark.integration
def test_vault_tables_exist_after_setup(conn: Any) -> None:
    cur = conn.cursor()
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'VAULT'")
    tables = {r[0].lower() for r in cur.fetchall()}
    expected = {h.name for h in vault.HUBS} | {k.name for k in vault.LINKS} | {s.name for s in vault.SATELLITES}
    assert expected <= tables
