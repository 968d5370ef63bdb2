"""Great Expectations 1.x over the same rule spec: ``lake quality --gx``.

Each rule of ``procedures/rules`` becomes an expectation in a suite per table, run by one
checkpoint through GX's Snowflake data source: the SQL is pushed down to the target (the
local fakesnow server, or Snowflake) exactly as it would run in production, and GX
builds its Data Docs (HTML) under ``.lake/gx/``.

Each table is a query asset that presents the columns as the rules read them: a text
column trimmed, blank as NULL (``<column>__text``), a number parsed
(``<column>__num``), the value as landed (``<column>__raw``); landing assets are limited
to the batch when one is named. Native expectations carry the rules GX has a word for
(not null, unique, regex, value set, range, freshness, row count). The rest (parses as a
type, an SQL condition, value tier, referential integrity, reconciliation) have no native
expectation and use GX's ``UnexpectedRowsExpectation`` with the rule's failure condition
from ``procedures.quality``: the same predicate, so those agree by construction, and
the native ones are an independent check of the procedure.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake.config import Settings
from lake.local.stack import Endpoints
from lake.session import connection, connection_kwargs
from procedures import quality
from procedures.sql import quote

if TYPE_CHECKING:
    from procedures.handlers import validate_data

NATIVE = {"not_null", "unique", "pattern", "accepted_values", "range", "freshness", "row_count_change"}


@dataclass
class GxReport:
    verdicts: dict[str, str] = field(default_factory=dict)  # rule -> PASS / WARN / FAIL
    unexpected: dict[str, int | None] = field(default_factory=dict)
    docs: Path | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        return [r for r, v in self.verdicts.items() if v == "FAIL"]

    def disagreements(self, summary: validate_data.Summary) -> dict[str, tuple[str, str | None]]:
        """The rules whose verdict differs from VALIDATE_DATA's: rule -> (ours, GX's)."""
        return {
            name: (r["verdict"], self.verdicts.get(name))
            for name, r in summary["rules"].items()
            if self.verdicts.get(name) != r["verdict"]
        }


def context_dir(settings: Settings) -> Path:
    return (settings.local.state_dir / "gx").resolve()


def _url(settings: Settings) -> str:
    """A URL of the shape GX's Snowflake data source validates. Account, user and the
    secret travel in ``connect_args`` (the keyword arguments of every other connection
    of the lake), which the connector takes over the URL's; so the URL's password is a
    placeholder GX insists on, never a credential (key-pair logins ignore it)."""
    names = settings.names
    sf = settings.snowflake
    account, user, warehouse, role = (
        ("fakesnow", "fake", "LAKE_WH", "LAKE_ADMIN") if sf is None else (sf.account, sf.user, sf.warehouse, sf.role)
    )
    credentials = f"{user}:unused"  # pragma: allowlist secret
    return f"snowflake://{credentials}@{account}/{names.database}/{names.landing}?warehouse={warehouse}&role={role}"


def _asset_query(table: str, rules: list[quality.Rule], schemas: Mapping[str, str], batch_id: str) -> str:
    layer = rules[0].layer
    columns: dict[str, str] = {}
    for rule in rules:
        if rule.type not in NATIVE or not rule.column:
            continue
        col = quote(rule.column)
        text = f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"
        if rule.type in ("not_null", "unique", "accepted_values"):
            columns[f"{rule.column}__text"] = text
        elif rule.type == "pattern":
            columns[f"{rule.column}__raw"] = f"CAST({col} AS VARCHAR)"
        elif rule.type == "range":
            columns[f"{rule.column}__num"] = f"TRY_CAST(TRIM(CAST({col} AS VARCHAR)) AS DOUBLE)"
        elif rule.type == "freshness":
            columns[f"{rule.column}__ts"] = f"CAST({col} AS TIMESTAMP_NTZ)"
    # the table's own columns too: the SQL-based expectations query the batch with them
    derived = "".join(f", {expr} AS {quote(alias)}" for alias, expr in columns.items())
    return f"SELECT t.*{derived} FROM {quality.table_ref(layer, table, schemas)} AS t{quality.scope(layer, batch_id)}"


def view_name(layer: str, table: str) -> str:
    return quote(f"gx_{layer}_{table}")


def _create_views(
    settings: Settings,
    endpoints: Endpoints | None,
    by_table: Mapping[tuple[str, str], list[quality.Rule]],
    schemas: Mapping[str, str],
    batch_id: str,
) -> dict[tuple[str, str], str]:
    """One view per table in the quality schema: the table (or its landing batch) with the
    normalised columns the native expectations read.

    GX gets a table asset over the view rather than a query asset: for a query asset it
    reads the column names by running the query as is, which fetches every row (on
    Snowflake the connector streams lazily; the local server ships the whole result)."""

    views = {}
    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        for (layer, table), rules in by_table.items():
            view = view_name(layer, table)
            query = _asset_query(table, rules, schemas, batch_id)
            cur.execute(f"CREATE OR REPLACE VIEW {settings.names.quality}.{view} AS {query}")
            views[(layer, table)] = view
    return views


def _unexpected_rows_query(rule: quality.Rule, schemas: Mapping[str, str]) -> str:
    """The failing rows of a rule GX has no native expectation for, from its batch
    (``{batch}``: the table's asset, already limited to the landing batch)."""
    if rule.type == "referential":
        assert rule.parent is not None and rule.parent.column and rule.column
        parent = quality.table_ref(rule.parent.layer, rule.parent.table, schemas)
        # GX names the batch's subquery itself, so the anti-join is a NOT IN over the
        # parent's non-null keys (the same rows as the procedure's NOT EXISTS)
        key, parent_key = quote(rule.column), quote(rule.parent.column)
        return (
            f"SELECT * FROM {{batch}} WHERE {key} IS NOT NULL AND {key} NOT IN "
            f"(SELECT {parent_key} FROM {parent} WHERE {parent_key} IS NOT NULL)"
        )
    if rule.type == "reconcile":
        assert rule.other is not None and rule.other.expression
        where = f" WHERE {quality.expand(rule.other.where, schemas)}" if rule.other.where else ""
        other_table = quality.table_ref(rule.other.layer, rule.other.table, schemas)
        other = f"SELECT {quality.expand(rule.other.expression, schemas)} FROM {other_table}{where}"
        this = f"SELECT {quality.expand(rule.expression or '', schemas)} FROM {{batch}}"
        allowed = f"GREATEST({float(rule.tolerance)!r}, ABS(COALESCE(o, 0)) * 1e-9)"
        return (
            f"SELECT * FROM (SELECT ({this}) AS x, ({other}) AS o) "
            f"WHERE ABS(COALESCE(x, 0) - COALESCE(o, 0)) > {allowed}"
        )
    if rule.type == "control_total":
        # the groups whose figures differ (the asset is the rule's own table: {batch} names it)
        this = quality.table_ref(rule.layer, rule.table, schemas)
        compared = quality.control_total_sql(rule, schemas).replace(f"FROM {this}", "FROM {batch}", 1)
        return f"SELECT * FROM ({compared}) WHERE FAILED"
    return f"SELECT * FROM {{batch}} WHERE ({quality.failure_condition(rule, schemas)})"


def _expectation(rule: quality.Rule, schemas: Mapping[str, str], batch_id: str, previous: dict[str, int]) -> Any:
    import great_expectations.expectations as gxe

    meta = {"rule": rule.name, "severity": rule.severity, "owner": rule.owner}
    column = (rule.column or "").lower()
    if rule.type == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=f"{column}__text", meta=meta)
    if rule.type == "unique":
        if rule.layer == "landing":
            return gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["batch_id", f"{column}__text"], ignore_row_if="any_value_is_missing", meta=meta
            )
        return gxe.ExpectColumnValuesToBeUnique(column=f"{column}__text", meta=meta)
    if rule.type == "pattern":
        return gxe.ExpectColumnValuesToMatchRegex(column=f"{column}__raw", regex=rule.pattern or "", meta=meta)
    if rule.type == "accepted_values":
        return gxe.ExpectColumnValuesToBeInSet(column=f"{column}__text", value_set=list(rule.values), meta=meta)
    if rule.type == "range":
        return gxe.ExpectColumnValuesToBeBetween(
            column=f"{column}__num", min_value=rule.min, max_value=rule.max, meta=meta
        )
    if rule.type == "freshness":
        oldest = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=float(rule.max_age_hours or 0))
        return gxe.ExpectColumnMaxToBeBetween(column=f"{column}__ts", min_value=oldest, meta=meta)
    if rule.type == "row_count_change":
        before = previous.get(rule.name)
        if not before:
            return gxe.ExpectTableRowCountToBeBetween(min_value=0, meta=meta)
        pct = float(rule.max_change_pct or 0) / 100
        return gxe.ExpectTableRowCountToBeBetween(
            min_value=int(before * (1 - pct)) if pct < 1 else 0, max_value=int(before * (1 + pct)), meta=meta
        )
    return gxe.UnexpectedRowsExpectation(unexpected_rows_query=_unexpected_rows_query(rule, schemas), meta=meta)


def previous_row_counts(settings: Settings, endpoints: Endpoints | None) -> dict[str, int]:
    """The last VALIDATE_DATA row counts of the row-count rules (their baseline)."""

    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        cur.execute(
            f"SELECT RULE_NAME, ROWS_CHECKED FROM {settings.names.quality}.RULE_RESULTS "
            "WHERE RULE_TYPE = 'row_count_change' "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY RULE_NAME ORDER BY CHECKED_AT DESC) = 1"
        )
        return {str(n): int(c) for n, c in cur.fetchall()}


def run(
    settings: Settings,
    endpoints: Endpoints | None,
    layer: str = "all",
    batch_id: str = "",
    previous: dict[str, int] | None = None,
    build_docs: bool = True,
) -> GxReport:
    """Build the suites from the rule spec and run them in one checkpoint."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from procedures.quality import layers_of

    started = time.perf_counter()
    wanted = layers_of(layer)
    names = settings.names
    schemas = {name: names.schemas[name] for name in quality.LAYERS}
    rules = [r for r in quality.load_rules().rules if r.layer in wanted]
    previous = previous_row_counts(settings, endpoints) if previous is None else previous
    root = context_dir(settings)
    # suites, validation definitions and the checkpoint are generated from the rule
    # spec, the source of truth: drop the last run's and write them again (validation
    # results and Data Docs under uncommitted/ stay)
    for generated in ("checkpoints", "expectations", "validation_definitions"):
        shutil.rmtree(root / "gx" / generated, ignore_errors=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    connect_args = {k: v for k, v in connection_kwargs(settings, endpoints).items() if k != "session_parameters"}
    # GX's stubs omit the engine `kwargs` its Snowflake data source accepts
    source = context.data_sources.add_or_update_snowflake(  # type: ignore[call-overload]
        name="lake", connection_string=_url(settings), kwargs={"connect_args": connect_args}
    )
    by_table = quality.by_table(rules)
    views = _create_views(settings, endpoints, by_table, schemas, batch_id)
    definitions = []
    for (lay, table), table_rules in by_table.items():
        name = f"{lay}_{table}"
        asset = source.add_table_asset(
            name=name, table_name=views[(lay, table)].lower(), schema_name=names.quality.lower()
        )
        batch = asset.add_batch_definition_whole_table("whole")
        suite = context.suites.add(gx.ExpectationSuite(name=name))
        for rule in table_rules:
            suite.add_expectation(_expectation(rule, schemas, batch_id, previous))
        definition = gx.ValidationDefinition(name=name, data=batch, suite=suite)
        definitions.append(context.validation_definitions.add(definition))
    actions: list[Any] = [UpdateDataDocsAction(name="data_docs")] if build_docs else []
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name="lake_quality", validation_definitions=definitions, actions=actions)
    )
    result = checkpoint.run()
    report = GxReport()
    for run_result in result.run_results.values():
        for r in run_result.results:
            assert r.expectation_config is not None  # GX fills it for every result
            meta = r.expectation_config.meta or {}
            name = str(meta["rule"])
            ok = bool(r.success) and not (r.exception_info or {}).get("raised_exception")
            report.verdicts[name] = "PASS" if ok else ("FAIL" if meta.get("severity") == "error" else "WARN")
            report.unexpected[name] = (r.result or {}).get("unexpected_count")
    if build_docs:
        report.docs = root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    report.seconds = time.perf_counter() - started
    return report
