"""The local server's speed change: fakesnow's transforms rewrite one copy in place.

``compat.transform_once`` must not change what reaches DuckDB. Every statement the
platform sends (the shipped DDL and the quality procedure's generated SQL, the longest
we issue) is transformed both ways and the DuckDB SQL compared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import fakesnow
import pytest
import snowflake.connector
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import parse_one
from sqlglot.errors import ParseError

from lake import sqlfiles
from lake.config import Settings
from lake.local import compat
from procedures import quality

pytestmark = pytest.mark.unit

SCHEMAS = {layer: layer.upper() for layer in quality.LAYERS}
# a stage or file format's creation time, which fakesnow writes into its own catalog
NOW = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)?")


def _statements() -> list[str]:
    statements = []
    for path in sqlfiles.files():
        text = sqlfiles.render(path.read_text(), sqlfiles.variables(Settings()), path.name)
        statements += sqlfiles.split(text)
    for mine in quality.by_table(quality.load_rules().rules).values():
        statements += quality.counting_sql(mine, SCHEMAS, "B20260105")
        failing = [r for r in mine if r.row_level or r.type == "referential"]
        if failing:
            statements.append(quality.exceptions_sql(failing, SCHEMAS, "run", "B20260105", "QUALITY.X", 10))
    return statements


@pytest.fixture(scope="module")
def cursor() -> Iterator[Any]:
    compat.apply(None)  # type: ignore[arg-type]  # only the transforms are used here
    with fakesnow.patch():
        conn = snowflake.connector.connect(database="LAKE", schema="PUBLIC")
        yield conn.cursor()
        conn.close()


def test_the_transforms_are_applied_once_to_a_copy() -> None:
    compat.apply(None)  # type: ignore[arg-type]
    assert hasattr(FakeSnowflakeCursor._transform, "__wrapped__")


def test_the_duckdb_sql_is_the_same_as_fakesnows(cursor: Any) -> None:
    original = FakeSnowflakeCursor._transform.__wrapped__  # type: ignore[attr-defined]
    compared = 0
    for sql in _statements():
        try:
            parsed = parse_one(sql, read="snowflake")
        except ParseError:  # a statement the local engine skips (tests/lake/test_sqlfiles.py)
            continue
        before = parsed.sql(dialect="snowflake")
        expected = NOW.sub("NOW", original(cursor, parse_one(sql, read="snowflake"), None).sql(dialect="duckdb"))
        assert NOW.sub("NOW", cursor._transform(parsed, None).sql(dialect="duckdb")) == expected, sql[:200]
        assert parsed.sql(dialect="snowflake") == before, "the statement given was changed in place"
        compared += 1
    assert compared > 100


def test_a_transform_function_still_gets_copies() -> None:
    """Inside the chain, a transform's own ``transform`` call copies as sqlglot documents."""
    tree = parse_one("SELECT a FROM t", read="snowflake")
    seen = []

    def link(node: Any) -> Any:
        if node is tree:
            inner = node.transform(lambda n: n)
            seen.append(inner is not node)
        return node

    compat.speed._chain.active = True
    try:
        tree.transform(link)
    finally:
        compat.speed._chain.active = False
    assert seen == [True]


def test_the_local_servers_connections_send_without_delay() -> None:
    """asyncio turns Nagle's algorithm off only on a socket that says it is TCP; with it
    on, each answer's body waited about 40 ms for the client's delayed ACK."""
    import asyncio.base_events
    import socket

    from lake.local import serve

    listening = serve._free_socket()
    listening.listen()
    client = socket.create_connection(listening.getsockname())
    accepted, _ = listening.accept()
    try:
        asyncio.base_events._set_nodelay(accepted)  # type: ignore[attr-defined]  # what asyncio does per connection
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        for sock in (accepted, client, listening):
            sock.close()


@pytest.mark.unit
def test_csv_reading_names_the_delimiter_and_reads_a_skipped_header_as_the_header() -> None:
    """fakesnow's ``read_csv(url, header = false, skip = 1)`` for ``SKIP_HEADER = 1`` and the
    default comma: DuckDB then sniffed the delimiter and read a header-only file as one column."""
    from fakesnow.copy_into import FileTypeHandler
    from sqlglot import exp

    eq = FileTypeHandler.make_eq
    call = exp.func("read_csv", exp.Literal.string("s3://b/x.csv"), eq("header", False), eq("skip", 1))
    read = compat.csv_options(call, ",").sql(dialect="duckdb")
    assert (
        "skip" not in read.lower() and "header = TRUE" in read and "sep = ','" in read and "all_varchar = TRUE" in read
    )


# --------------------------------------------------------------------------- one test per pure bridge


@pytest.mark.unit
def test_list_of_a_qualified_stage_path_parses_and_remembers_the_sub_path() -> None:
    from lake.local.compat import stages

    parsed = stages.parse_list("LIST @LAKE.LANDING.LANDING_STAGE/crm/customers/")
    assert parsed is not None and parsed.args["alias"].this.this == "LAKE.LANDING.LANDING_STAGE"
    assert stages._list_path.value == "crm/customers/"
    assert stages.parse_list("SELECT 1") is None


@pytest.mark.unit
def test_a_qualified_temporary_table_becomes_a_plain_one_and_an_unqualified_one_stays_temporary() -> None:
    import sqlglot

    from lake.local.compat import statements

    qualified = statements.local_temporary(sqlglot.parse_one("CREATE TEMPORARY TABLE db.s.t (a INT)", read="snowflake"))
    assert "TEMPORARY" not in qualified.sql("snowflake").upper()
    bare = statements.local_temporary(sqlglot.parse_one("CREATE TEMPORARY TABLE t (a INT)", read="snowflake"))
    assert "TEMPORARY" in bare.sql("snowflake").upper()
    assert statements.DROP_DATABASE.match("DROP DATABASE IF EXISTS LAKE_APP")
    assert not statements.DROP_DATABASE.match("DROP TABLE LAKE_APP")


@pytest.mark.unit
def test_the_client_pid_is_read_from_a_login_request_plain_or_gzipped() -> None:
    import gzip
    import json

    from lake.local.compat import sessions

    body = json.dumps({"data": {"SESSION_PARAMETERS": {sessions.CLIENT_PID_PARAMETER: 4242}}}).encode()
    assert sessions.client_pid(body) == 4242
    assert sessions.client_pid(gzip.compress(body)) == 4242
    assert sessions.client_pid(b"not json") is None


@pytest.mark.unit
def test_metadata_filename_keeps_the_stage_locations_prefix() -> None:
    from lake.local.compat import copying

    url = "s3://lake-landing/landing/crm/customers/load_date=2026-01-05/part-0000.csv"
    assert copying.metadata_filename(url) == "landing/crm/customers/load_date=2026-01-05/part-0000.csv"
