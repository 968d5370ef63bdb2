"""The business vault on the generated data: every point-in-time row points to the
satellite rows in effect at its snapshot, the bridge holds exactly the relationships the
effectivity satellite had open, and the snapshot control table follows its retention.
Each table is checked against a brute-force query over the raw vault, at the earliest,
a middle and the latest retained snapshot (other tests load later batches into the same
vault, which add snapshots)."""

from __future__ import annotations

import os
from itertools import pairwise
from typing import Any

import pytest

from lake import business_vault
from procedures import vault

pytestmark = pytest.mark.integration


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


def checked_snapshots(conn: Any) -> str:
    """The retained snapshots the brute force runs at, as a SQL list of dates."""
    kept = [str(d) for (d,) in rows(conn, "SELECT snapshot_date FROM VAULT.as_of_dates WHERE is_retained ORDER BY 1")]
    assert kept, "no retained snapshot"
    return ", ".join(f"'{d}'" for d in sorted({kept[0], kept[len(kept) // 2], kept[-1]}))


@pytest.mark.parametrize("hub", business_vault.pit_hubs(), ids=lambda h: h.name)
def test_point_in_time_rows_point_to_the_rows_in_effect(built: dict[str, Any], conn: Any, hub: vault.Hub) -> None:
    pit = business_vault.pit_name(hub)
    hk = hub.hash_key
    satellites = business_vault.pit_satellites(hub)
    # brute force: every hub key loaded by a snapshot, and per satellite the latest of its
    # rows loaded by then, found by scanning the satellite for each (key, snapshot)
    brute = ", ".join(
        f"(SELECT MAX(s.load_ts) FROM VAULT.{sat} s WHERE s.{hk} = h.{hk} AND s.load_ts <= d.snapshot_ts) AS {sat}"
        for sat in satellites
    )
    dates = checked_snapshots(conn)
    expected = (
        f"SELECT d.snapshot_date, h.{hk}, {brute} FROM VAULT.{hub.name} h "
        "JOIN VAULT.as_of_dates d ON h.load_ts <= d.snapshot_ts "
        f"WHERE d.snapshot_date IN ({dates}) AND h.{hk} <> '{vault.ZERO_KEY}'"
    )
    actual = (
        f"SELECT snapshot_date, {hk}, {', '.join(f'{s}_load_ts' for s in satellites)} FROM VAULT.{pit} "
        f"WHERE snapshot_date IN ({dates})"
    )
    assert rows(conn, f"SELECT COUNT(*) FROM ({expected} EXCEPT {actual})") == [(0,)]
    assert rows(conn, f"SELECT COUNT(*) FROM ({actual} EXCEPT {expected})") == [(0,)]
    # and every retained snapshot is there, none other
    assert rows(conn, f"SELECT COUNT(DISTINCT snapshot_date) FROM VAULT.{pit}") == rows(
        conn, "SELECT COUNT(*) FROM VAULT.as_of_dates WHERE is_retained"
    )
    assert rows(conn, f"SELECT COUNT(*) FROM ({actual})")[0][0] > 0


def test_a_client_changed_on_day_two_points_to_its_first_row_then_its_second(built: dict[str, Any], conn: Any) -> None:
    (hk,) = rows(
        conn,
        "SELECT customer_hk FROM VAULT.SAT_CUSTOMER GROUP BY 1 "
        "HAVING MIN(batch_id) = 'B20260105' AND MAX(batch_id) = 'B20260106' AND COUNT(*) = 2 LIMIT 1",
    )[0]
    first, second = (
        r[0] for r in rows(conn, f"SELECT load_ts FROM VAULT.SAT_CUSTOMER WHERE customer_hk = '{hk}' ORDER BY 1")
    )
    pit = rows(
        conn,
        "SELECT p.snapshot_ts, p.sat_customer_load_ts FROM VAULT.pit_customer p "
        f"WHERE p.customer_hk = '{hk}' ORDER BY 1",
    )
    assert pit
    assert [load for ts, load in pit] == [first if ts < second else second for ts, _ in pit]
    assert pit[-1][1] == second


def test_the_bridge_holds_the_relationships_open_at_each_snapshot(built: dict[str, Any], conn: Any) -> None:
    # brute force: per snapshot and relationship, its latest effectivity row loaded by then
    # is open; then every transaction linked to the account by then
    dates = checked_snapshots(conn)
    open_then = (
        "SELECT d.snapshot_date, e.customer_hk, e.account_hk FROM VAULT.as_of_dates d "
        f"JOIN VAULT.EFF_SAT_CUSTOMER_ACCOUNT e ON e.load_ts <= d.snapshot_ts WHERE d.snapshot_date IN ({dates}) "
        "AND e.end_at = '9999-12-31' AND e.customer_hk <> '00000000000000000000000000000000' AND NOT EXISTS ("
        "SELECT 1 FROM VAULT.EFF_SAT_CUSTOMER_ACCOUNT later WHERE later.customer_account_hk = e.customer_account_hk "
        "AND later.load_ts > e.load_ts AND later.load_ts <= d.snapshot_ts)"
    )
    expected = (
        f"SELECT o.snapshot_date, o.customer_hk, o.account_hk, l.transaction_hk FROM ({open_then}) o "
        "LEFT JOIN VAULT.LINK_ACCOUNT_TRANSACTION l ON l.account_hk = o.account_hk AND l.load_ts <= "
        "(SELECT d.snapshot_ts FROM VAULT.as_of_dates d WHERE d.snapshot_date = o.snapshot_date)"
    )
    actual = (
        "SELECT snapshot_date, customer_hk, account_hk, transaction_hk FROM VAULT.bridge_customer_account_transaction "
        f"WHERE snapshot_date IN ({dates})"
    )
    assert rows(conn, f"SELECT COUNT(*) FROM ({expected} EXCEPT {actual})") == [(0,)]
    assert rows(conn, f"SELECT COUNT(*) FROM ({actual} EXCEPT {expected})") == [(0,)]
    # an account that moved counts once, for its new client, at the latest snapshot
    latest = rows(
        conn,
        "SELECT COUNT(DISTINCT account_hk), COUNT(DISTINCT customer_hk || account_hk) FROM "
        "VAULT.bridge_customer_account_transaction WHERE snapshot_date = "
        "(SELECT snapshot_date FROM VAULT.as_of_dates WHERE is_latest)",
    )
    assert latest[0][0] == latest[0][1] > 0
    moved = rows(
        conn,
        "SELECT COUNT(*) FROM VAULT.EFF_SAT_CUSTOMER_ACCOUNT WHERE end_at <> '9999-12-31'",
    )
    assert moved[0][0] > 0, "the generated data moves and closes no account"


def test_the_snapshot_control_table_has_a_day_per_date_and_keeps_them(built: dict[str, Any], conn: Any) -> None:
    days = rows(conn, "SELECT snapshot_date, is_month_end, is_latest, is_retained FROM VAULT.as_of_dates ORDER BY 1")
    dates = [d for d, _, _, _ in days]
    assert [str(d) for d in dates[:3]] == ["2026-01-05", "2026-01-06", "2026-01-07"]
    assert all((b - a).days == 1 for a, b in pairwise(dates))  # every day, gaps filled
    assert [latest for _, _, latest, _ in days] == [False] * (len(days) - 1) + [True]
    # the retention the suite runs with (tests/conftest.py), as dbt reads it
    keep_month_ends = os.environ["LAKE_SNAPSHOT_KEEP_MONTH_ENDS"] == "true"
    days_kept = int(os.environ["LAKE_SNAPSHOT_RETENTION_DAYS"])
    last = dates[-1]
    for day, month_end, _, retained in days:
        assert retained == ((keep_month_ends and month_end) or (last - day).days < days_kept), day
