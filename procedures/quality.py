"""The data-quality rule spec and its compiler to pushed-down SQL.

One YAML file per layer in ``procedures/rules/`` (landing, vault, bronze, silver, gold)
declares the rules; for the landing layer the entity spec adds the structural rules of
every entity (key present and unique in the batch, references present, typed columns
parse, value-set columns in their set), so a new entity is checked with no edit here.

A rule has a name, a layer, a table of that layer's schema, a type, a severity (``warn``
or ``error``) and an owner. Types:

=====================  ==========================================================
``not_null``           the column is not null or blank
``unique``             no value of the column appears twice (landing: in the batch)
``pattern``            the value matches a regular expression (whole value)
``accepted_values``    the value is one of ``values``
``range``              ``min <= value <= max`` (either bound optional)
``parseable``          the text parses as ``as`` (DATE, TIMESTAMP_NTZ, NUMBER)
``expression``         a SQL condition every row meets
``value_tier``         the tier column follows ``spec.VALUE_TIERS`` of ``amount``
``referential``        every value exists in ``parent.table.column``
``freshness``          the newest ``column`` is at most ``max_age_hours`` old
``row_count_change``   rows changed by at most ``max_change_pct`` since the last run
``reconcile``          an aggregate equals ``other``'s aggregate within ``tolerance``
``control_total``      per group (``by``), each of ``measures`` equals ``other``'s
                       (``other.by``, ``other.measures``) exactly: a control total
=====================  ==========================================================

Control totals compare two layers group by group (batch, currency, a value), exactly (NUMBER
sums, no tolerance): landing with the vault (every landed row loaded, superseded or
quarantined, with the amounts landed), the vault with silver, silver with gold, and every
standardised attribute's distribution in silver with landing's after the mapping. Most are
generated from the entity spec (``control_rules``); a failing group is an exception naming
the group and both figures.

The compiler turns a table's row rules into one SELECT of failure counts (one scan per
table); referential, reconcile and control-total rules are one query each. ``validate`` (a spec against
the warehouse's columns) fails with a message naming the rule, table and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, get_args

import yaml

from procedures import controls, spec
from procedures.audit import ArgumentError
from procedures.errors import UserError
from procedures.sql import quote, sql_literal

Layer = Literal["landing", "vault", "bronze", "silver", "gold"]
LAYERS: tuple[str, ...] = get_args(Layer)  # the data layers, in pipeline order
MART_LAYERS: tuple[str, ...] = ("bronze", "silver", "gold")  # the ones dbt builds
# what VALIDATE_DATA's layer argument may also name
LAYER_GROUPS: dict[str, tuple[str, ...]] = {"marts": MART_LAYERS, "all": LAYERS}


class QualityGateError(UserError, RuntimeError):
    """An error-severity rule failed; the message names the rules and their counts."""


def layers_of(layer: str) -> tuple[str, ...]:
    """``gold``, ``bronze,silver``, ``marts`` or ``all`` as layers, in pipeline order."""
    wanted: set[str] = set()
    for part in (layer or "").lower().replace(" ", "").split(","):
        if part in LAYER_GROUPS:
            wanted |= set(LAYER_GROUPS[part])
        elif part in LAYERS:
            wanted.add(part)
        else:
            known = ", ".join((*LAYERS, *LAYER_GROUPS))
            raise ArgumentError(f"layer must be one of {known} (or several, comma-separated), got {layer!r}")
    return tuple(name for name in LAYERS if name in wanted)


Severity = Literal["warn", "error"]
RuleType = Literal[
    "not_null",
    "unique",
    "pattern",
    "accepted_values",
    "range",
    "parseable",
    "expression",
    "value_tier",
    "referential",
    "freshness",
    "row_count_change",
    "reconcile",
    "control_total",
]
RULE_TYPES: tuple[str, ...] = get_args(RuleType)
# rules evaluated row by row in the table's one scan; their failing rows are exceptions
ROW_RULES = {"not_null", "unique", "pattern", "accepted_values", "range", "parseable", "expression", "value_tier"}
PARSE_TYPES = {"DATE", "TIMESTAMP_NTZ", "NUMBER", "NUMBER(18,2)", "NUMBER(18,0)", "NUMBER(18,8)"}
NEEDS: dict[str, tuple[str, ...]] = {
    "not_null": ("column",),
    "unique": ("column",),
    "pattern": ("column", "pattern"),
    "accepted_values": ("column", "values"),
    "range": ("column",),
    "parseable": ("column", "as_type"),
    "expression": ("expression",),
    "value_tier": ("column", "amount"),
    "referential": ("column", "parent"),
    "freshness": ("column", "max_age_hours"),
    "row_count_change": ("max_change_pct",),
    "reconcile": ("expression", "other"),
    "control_total": ("measures", "other"),
}
# the rules that compare whole tables, one query each (no row scan)
QUERY_RULES = ("referential", "reconcile", "control_total")
ALLOWED_KEYS = {
    "name",
    "table",
    "type",
    "column",
    "severity",
    "owner",
    "description",
    "pattern",
    "values",
    "min",
    "max",
    "as",
    "expression",
    "amount",
    "parent",
    "max_age_hours",
    "max_change_pct",
    "other",
    "tolerance",
    "where",
    "by",
    "measures",
}
NAME = re.compile(r"^[a-z][a-z0-9_]{2,127}$")


class RuleSpecError(UserError, ValueError):
    """A rule spec that cannot be used; the message names the file, rule and key."""


@dataclass(frozen=True)
class Ref:
    """Another table a rule compares with, in the same layer unless ``layer`` says."""

    table: str
    layer: str
    column: str | None = None
    expression: str | None = None
    where: str | None = None
    by: tuple[str, ...] = ()  # control_total: the groups, aligned with the rule's own
    measures: tuple[str, ...] = ()  # control_total: the figures, aligned with the rule's own


@dataclass(frozen=True)
class Rule:
    name: str
    layer: str
    table: str
    type: str
    severity: str
    owner: str
    description: str = ""
    column: str | None = None
    pattern: str | None = None
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    as_type: str | None = None
    expression: str | None = None
    amount: str | None = None
    parent: Ref | None = None
    max_age_hours: float | None = None
    max_change_pct: float | None = None
    other: Ref | None = None
    tolerance: float = 0.0
    by: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    where: str | None = None
    source: str = ""  # the file it came from, or "entity spec"

    @property
    def row_level(self) -> bool:
        return self.type in ROW_RULES

    def columns(self) -> list[tuple[str, str, str]]:
        """(layer, table, column) this rule reads, for validation against the warehouse."""
        cols = [(self.layer, self.table, c) for c in (self.column, self.amount) if c]
        if self.parent and self.parent.column:
            cols.append((self.parent.layer, self.parent.table, self.parent.column))
        return cols


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)

    def layer(self, layer: str) -> list[Rule]:
        return [r for r in self.rules if r.layer == layer]

    def tables(self, layer: str) -> list[str]:
        return sorted({r.table for r in self.layer(layer)})


# --------------------------------------------------------------------------- loading


def _fail(source: str, rule: str, message: str) -> RuleSpecError:
    return RuleSpecError(f"{source}: rule {rule!r}: {message}")


def _texts(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A list of a rule's (``by``, ``measures``), as text; absent is empty."""
    return tuple(str(v) for v in raw.get(key, ()) or ())


def _ref(source: str, name: str, key: str, raw: Any, layer: str, needs: str) -> Ref:
    if not isinstance(raw, dict) or not raw.get("table") or not raw.get(needs):
        raise _fail(source, name, f"'{key}' needs a table and a {needs}")
    unknown = set(raw) - {"table", "layer", "column", "expression", "where", "by", "measures"}
    if unknown:
        raise _fail(source, name, f"'{key}' has unknown key(s) {sorted(unknown)}")
    ref_layer = raw.get("layer", layer)
    if ref_layer not in LAYERS:
        raise _fail(source, name, f"'{key}.layer' must be one of {list(LAYERS)}, got {ref_layer!r}")
    return Ref(
        str(raw["table"]).lower(),
        ref_layer,
        raw.get("column"),
        raw.get("expression"),
        raw.get("where"),
        _texts(raw, "by"),
        _texts(raw, "measures"),
    )


def parse_rule(raw: Mapping[str, Any], layer: str, defaults: Mapping[str, Any], source: str) -> Rule:
    name = str(raw.get("name", ""))
    if not NAME.match(name):
        raise RuleSpecError(f"{source}: rule name {name!r} must be lower_snake_case, 3-128 characters")
    unknown = set(raw) - ALLOWED_KEYS
    if unknown:
        raise _fail(source, name, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(ALLOWED_KEYS)}")
    kind = raw.get("type")
    if kind not in RULE_TYPES:
        raise _fail(source, name, f"unknown rule type {kind!r}; known: {', '.join(RULE_TYPES)}")
    severity = raw.get("severity", defaults.get("severity", "error"))
    if severity not in ("warn", "error"):
        raise _fail(source, name, f"severity must be 'warn' or 'error', got {severity!r}")
    owner = raw.get("owner", defaults.get("owner"))
    if not owner:
        raise _fail(source, name, "has no owner (set 'owner' on the rule or the file)")
    table = str(raw.get("table") or "")
    if not table:
        raise _fail(source, name, "has no table")
    fields: dict[str, Any] = {
        "column": raw.get("column"),
        "pattern": raw.get("pattern"),
        "values": tuple(str(v) for v in raw.get("values", ()) or ()),
        "min": raw.get("min"),
        "max": raw.get("max"),
        "as_type": raw.get("as"),
        "expression": raw.get("expression"),
        "amount": raw.get("amount"),
        "max_age_hours": raw.get("max_age_hours"),
        "max_change_pct": raw.get("max_change_pct"),
        "parent": _ref(source, name, "parent", raw["parent"], layer, "column") if "parent" in raw else None,
        "other": (
            _ref(source, name, "other", raw["other"], layer, "measures" if kind == "control_total" else "expression")
            if "other" in raw
            else None
        ),
        "by": _texts(raw, "by"),
        "measures": _texts(raw, "measures"),
    }
    missing = [k for k in NEEDS[kind] if fields.get(k) in (None, ())]
    if missing:
        shown = ["as" if k == "as_type" else k for k in missing]
        raise _fail(source, name, f"a {kind} rule needs {', '.join(shown)}")
    if kind == "control_total":
        other = fields["other"]
        if len(other.by) != len(fields["by"]) or len(other.measures) != len(fields["measures"]):
            raise _fail(source, name, "'other' needs as many 'by' and 'measures' entries as the rule")
    if kind == "range" and fields["min"] is None and fields["max"] is None:
        raise _fail(source, name, "a range rule needs min, max or both")
    if fields["pattern"] is not None:
        try:
            re.compile(fields["pattern"])
        except re.error as err:
            raise _fail(source, name, f"invalid regular expression {fields['pattern']!r}: {err}") from None
    if fields["as_type"] is not None and str(fields["as_type"]).upper() not in PARSE_TYPES:
        raise _fail(source, name, f"'as' must be one of {sorted(PARSE_TYPES)}, got {fields['as_type']!r}")
    for key in ("column", "amount"):
        if fields[key] is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(fields[key])):
            raise _fail(source, name, f"'{key}' must be a column name, got {fields[key]!r}")
    return Rule(
        name=name,
        layer=layer,
        table=table.lower(),
        type=kind,
        severity=severity,
        owner=str(owner),
        description=" ".join(str(raw.get("description", "")).split()),
        tolerance=float(raw.get("tolerance", 0) or 0),
        where=raw.get("where"),
        source=source,
        **fields,
    )


def parse_file(text: str, source: str) -> list[Rule]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise RuleSpecError(f"{source}: not valid YAML: {err}") from None
    layer = doc.get("layer")
    if layer not in LAYERS:
        raise RuleSpecError(f"{source}: 'layer' must be one of {list(LAYERS)}, got {layer!r}")
    defaults = {k: doc[k] for k in ("owner", "severity") if k in doc}
    return [parse_rule(raw, layer, defaults, source) for raw in doc.get("rules") or []]


def entity_rules() -> list[Rule]:
    """The landing layer's structural rules, from the entity spec (owner: ingestion)."""
    rules: list[Rule] = []

    def add(entity: spec.Entity, suffix: str, kind: str, column: str, **extra: Any) -> None:
        rules.append(
            Rule(
                name=f"landing_{entity.name}_{suffix}",
                layer="landing",
                table=entity.name,
                type=kind,
                severity="warn",
                owner="ingestion",
                column=column,
                source="entity spec",
                **extra,
            )
        )

    for e in spec.ENTITIES:
        add(e, f"{e.key}_present", "not_null", e.key, description="Rows without a business key are quarantined.")
        add(e, f"{e.key}_unique_in_batch", "unique", e.key, description="A key appears once per batch.")
        for ref in e.references:
            missing = (
                "A set member without it is quarantined." if e.multi_active else "Maps to the ghost key if missing."
            )
            add(e, f"{ref.column}_present", "not_null", ref.column, description=missing)
        for c in e.columns:
            if c.type != "VARCHAR":
                add(e, f"{c.name}_parses", "parseable", c.name, as_type=c.type, description=f"Text parses as {c.type}.")
            if c.values:
                add(e, f"{c.name}_values", "accepted_values", c.name, values=tuple(c.values))
    return rules


def load_rules() -> RuleSet:
    """Every rule: the per-layer files shipped in procedures/rules, and the entity spec's
    (structural landing rules, control totals and distributions: procedures/controls.py)."""
    rules = entity_rules()
    rules += [parse_rule(raw, layer, {}, "entity spec (controls)") for layer, raw in controls.rule_specs()]
    folder = resources.files("procedures") / "rules"
    for layer in LAYERS:
        item = folder / f"{layer}.yml"
        rules += parse_file(item.read_text(), f"procedures/rules/{layer}.yml")
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleSpecError(f"rule names repeat: {dupes}")
    return RuleSet(rules)


def validate(rules: Iterable[Rule], columns: Mapping[tuple[str, str], set[str]]) -> None:
    """Every table and column a rule reads exists: ``columns[(layer, table)]`` is the
    table's lower-case column names, as the warehouse describes them."""
    for rule in rules:
        for layer, table in {(rule.layer, rule.table), *((r.layer, r.table) for r in (rule.parent, rule.other) if r)}:
            if (layer, table) not in columns:
                raise _fail(rule.source, rule.name, f"unknown table {table!r} in layer {layer}")
        for layer, table, column in rule.columns():
            if column.lower() not in columns[(layer, table)]:
                raise _fail(rule.source, rule.name, f"unknown column {column!r} in {layer} table {table!r}")


# --------------------------------------------------------------------------- compiling


def _text(column: str) -> str:
    return f"TRIM(CAST({quote(column)} AS VARCHAR))"


def failure_condition(rule: Rule, schemas: Mapping[str, str]) -> str:
    """A SQL condition true for a row that breaks a row-level rule."""
    col = quote(rule.column) if rule.column else ""
    if rule.type == "not_null":
        return f"COALESCE({_text(rule.column or '')}, '') = ''"
    if rule.type == "pattern":
        return f"{col} IS NOT NULL AND NOT REGEXP_LIKE(CAST({col} AS VARCHAR), {sql_literal(rule.pattern or '')})"
    if rule.type == "accepted_values":
        values = ", ".join(sql_literal(v) for v in ("", *rule.values))
        return f"{_text(rule.column or '')} NOT IN ({values})"
    if rule.type == "range":
        number = f"TRY_CAST({_text(rule.column or '')} AS DOUBLE)"
        bounds = []
        if rule.min is not None:
            bounds.append(f"{number} < {float(rule.min)!r}")
        if rule.max is not None:
            bounds.append(f"{number} > {float(rule.max)!r}")
        return f"({' OR '.join(bounds)})"
    if rule.type == "parseable":
        text = _text(rule.column or "")
        return f"{text} <> '' AND TRY_CAST({text} AS {str(rule.as_type).upper()}) IS NULL"
    if rule.type == "expression":
        return f"NOT COALESCE(({expand(rule.expression or '', schemas)}), FALSE)"
    if rule.type == "value_tier":
        amount = quote(rule.amount or "")
        cases = " ".join(f"WHEN {amount} >= {minimum} THEN {sql_literal(name)}" for name, minimum in spec.VALUE_TIERS)
        return f"{col} IS DISTINCT FROM (CASE {cases} END)"
    raise AssertionError(f"{rule.type} is not a row rule")


def unique_value(rule: Rule) -> str:
    """What a unique rule compares: the trimmed text, a blank value counting as none; in
    landing, within its batch (a key comes again in a later batch as an update)."""
    value = f"NULLIF({_text(rule.column or '')}, '')"
    return f"BATCH_ID || '|' || {value}" if rule.layer == "landing" else value


def expand(text: str, schemas: Mapping[str, str]) -> str:
    """Schema placeholders in a spec's SQL (``{gold}.gold_transaction_summary``)."""
    for layer, schema in schemas.items():
        text = text.replace("{" + layer + "}", quote(schema))
    return text


def table_ref(layer: str, table: str, schemas: Mapping[str, str]) -> str:
    return f"{quote(schemas[layer])}.{quote(table)}"


def scope(rule_layer: str, batch_id: str) -> str:
    """Landing rules look at one batch when a batch is named; other layers at every row."""
    return f" WHERE BATCH_ID = {sql_literal(batch_id)}" if rule_layer == "landing" and batch_id else ""


def narrowed(where: str, condition: str) -> str:
    """``where`` (a ``scope``: empty or `` WHERE ...``) with ``condition`` added."""
    return f"{where} AND {condition}" if where else f" WHERE {condition}"


def scan_sql(table: str, rules: list[Rule], schemas: Mapping[str, str], batch_id: str = "") -> str:
    """One SELECT over ``table`` counting each rule's failing rows (aliases R0, R1, ...),
    with the row count (``ROWS_CHECKED``) and each freshness column's newest value."""
    layer = rules[0].layer
    items = ["COUNT(*) AS ROWS_CHECKED", "SYSDATE() AS CHECKED_AT"]
    for i, rule in enumerate(rules):
        if rule.type == "unique":
            value = unique_value(rule)
            items.append(f"COUNT({value}) - COUNT(DISTINCT {value}) AS R{i}")
        elif rule.row_level:
            items.append(f"COUNT_IF({failure_condition(rule, schemas)}) AS R{i}")
        elif rule.type == "freshness":
            items.append(f"MAX({quote(rule.column or '')})::TIMESTAMP_NTZ AS R{i}")
        else:  # row_count_change: judged against the last run's ROWS_CHECKED
            items.append(f"NULL AS R{i}")
    return f"SELECT {', '.join(items)} FROM {table_ref(layer, table, schemas)}{scope(layer, batch_id)}"


def referential_sql(rule: Rule, schemas: Mapping[str, str], batch_id: str = "") -> str:
    assert rule.parent is not None and rule.parent.column and rule.column
    child, parent = table_ref(rule.layer, rule.table, schemas), table_ref(rule.parent.layer, rule.parent.table, schemas)
    where = scope(rule.layer, batch_id)
    where = narrowed(where, f"c.{quote(rule.column)} IS NOT NULL")
    return (
        f"SELECT COUNT(*) AS ROWS_CHECKED, COUNT_IF(p.{quote(rule.parent.column)} IS NULL) AS FAILED "
        f"FROM {child} AS c LEFT JOIN (SELECT DISTINCT {quote(rule.parent.column)} FROM {parent}) AS p "
        f"ON c.{quote(rule.column)} = p.{quote(rule.parent.column)}{where.replace('BATCH_ID', 'c.BATCH_ID')}"
    )


def reconcile_sql(rule: Rule, schemas: Mapping[str, str]) -> str:
    assert rule.other is not None and rule.other.expression
    other_where = f" WHERE {expand(rule.other.where, schemas)}" if rule.other.where else ""
    return (
        f"SELECT (SELECT {expand(rule.expression or '', schemas)} FROM {table_ref(rule.layer, rule.table, schemas)}) "
        f"AS THIS_VALUE, (SELECT {expand(rule.other.expression, schemas)} "
        f"FROM {table_ref(rule.other.layer, rule.other.table, schemas)}{other_where}) AS OTHER_VALUE"
    )


def _control_side(table: str, by: tuple[str, ...], measures: tuple[str, ...], where: str | None) -> str:
    key = " || '|' || ".join(f"COALESCE(CAST(({b}) AS VARCHAR), '(none)')" for b in by) or "'(all)'"
    figures = ", ".join(f"{m} AS M{i}" for i, m in enumerate(measures))
    grouped = " GROUP BY 1" if by else ""
    return f"SELECT {key} AS K, {figures} FROM {table}{f' WHERE {where}' if where else ''}{grouped}"


def control_total_sql(rule: Rule, schemas: Mapping[str, str]) -> str:
    """Every group of a control total, with both sides' figures and whether they differ:
    ``GROUP_KEY`` (the ``by`` values joined with ``|``), ``FAILED``, and ``DETAIL``, each
    measure as ``<measure>: <this> vs <other>``. A group one side lacks counts as 0 there.
    Exact: NUMBER sums compare digit for digit, with no tolerance."""
    assert rule.other is not None
    other = rule.other
    this_side = _control_side(
        table_ref(rule.layer, rule.table, schemas),
        rule.by,
        tuple(expand(m, schemas) for m in rule.measures),
        expand(rule.where, schemas) if rule.where else None,
    )
    other_side = _control_side(
        table_ref(other.layer, other.table, schemas),
        other.by,
        tuple(expand(m, schemas) for m in other.measures),
        expand(other.where, schemas) if other.where else None,
    )
    pairs = [(f"COALESCE(a.M{i}, 0)", f"COALESCE(b.M{i}, 0)") for i in range(len(rule.measures))]
    failed = " OR ".join(f"{a} <> {b}" for a, b in pairs)
    shown = " || '; ' || ".join(
        f"{sql_literal(m + ': ')} || CAST({a} AS VARCHAR) || ' vs ' || CAST({b} AS VARCHAR)"
        for m, (a, b) in zip(rule.measures, pairs, strict=True)
    )
    return (
        f"SELECT COALESCE(a.K, b.K) AS GROUP_KEY, ({failed}) AS FAILED, {shown} AS DETAIL "
        f"FROM ({this_side}) AS a FULL OUTER JOIN ({other_side}) AS b ON a.K = b.K ORDER BY 1"
    )


def by_table(rules: Iterable[Rule]) -> dict[tuple[str, str], list[Rule]]:
    """``rules`` grouped by the (layer, table) they check, in the order given."""
    grouped: dict[tuple[str, str], list[Rule]] = {}
    for rule in rules:
        grouped.setdefault((rule.layer, rule.table), []).append(rule)
    return grouped


def counting_sql(rules: list[Rule], schemas: Mapping[str, str], batch_id: str = "") -> list[str]:
    """The counting queries of one table's rules: one scan for the rules it judges, one
    query per referential or reconciliation rule (no exceptions, no writes)."""
    scanned = [r for r in rules if r.type not in QUERY_RULES]
    statements = [scan_sql(scanned[0].table, scanned, schemas, batch_id)] if scanned else []
    statements += [referential_sql(r, schemas, batch_id) for r in rules if r.type == "referential"]
    statements += [control_total_sql(r, schemas) for r in rules if r.type == "control_total"]
    return statements + [reconcile_sql(r, schemas) for r in rules if r.type == "reconcile"]


def key_column(rule: Rule) -> str:
    """The column that identifies a failing row in the exceptions table."""
    if rule.layer == "landing":
        return spec.entity(rule.table).key
    return rule.column if rule.type in ("unique", "referential") and rule.column else _first_key(rule)


def _first_key(rule: Rule) -> str:
    table = rule.table
    for e in spec.ENTITIES:
        if table.endswith(f"_{e.name}") or table.endswith(f"_{e.singular}"):
            return e.key if not table.startswith(("hub_", "sat_", "link_")) else f"{e.singular}_hk"
    return {
        "gold_customer_summary": "customer_id",
        "gold_transaction_summary": "account_id",
        "gold_cross_domain_analytics": "customer_id",
        "gold_order_metrics": "order_month",
    }.get(table, rule.column or "")


def exceptions_sql(
    rules: list[Rule], schemas: Mapping[str, str], run_id: str, batch_id: str, exceptions_table: str, cap: int
) -> str:
    """One INSERT of the failing rows of ``rules`` (row-level or referential, one table),
    at most ``cap`` per rule: the key, where it landed (landing) and the failing value."""
    layer, table = rules[0].layer, rules[0].table
    source = table_ref(layer, table, schemas)
    located = (
        "FILE_NAME, FILE_ROW_NUMBER"
        if layer == "landing"
        else "CAST(NULL AS VARCHAR) AS FILE_NAME, CAST(NULL AS NUMBER) AS FILE_ROW_NUMBER"
    )
    where = scope(layer, batch_id)
    parts = []
    # the rules judged row by row share one pass: the rows that break any of them, with a
    # flag per rule, from which each rule takes its rows (at 10M landed rows: 8.8 s of
    # exception inserts, against 10.8 s with a pass per rule)
    shared = [r for r in rules if r.type != "unique"]
    if shared:
        conditions = []
        for rule in shared:
            if rule.type == "referential":
                assert rule.parent is not None and rule.parent.column and rule.column
                parent = table_ref(rule.parent.layer, rule.parent.table, schemas)
                conditions.append(
                    f"t.{quote(rule.column)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} AS p "
                    f"WHERE p.{quote(rule.parent.column)} = t.{quote(rule.column)})"
                )
            else:
                conditions.append(failure_condition(rule, schemas))
        columns = []
        for rule in shared:
            for column in (key_column(rule), rule.column):
                if column and quote(column) not in columns:
                    columns.append(quote(column))
        flags = ", ".join(f"COALESCE(({c}), FALSE) AS F{i}" for i, c in enumerate(conditions))
        anyone = " OR ".join(f"({c})" for c in conditions)
        kept = ", ".join(f"CAST(t.{c} AS VARCHAR) AS {c}" for c in columns)
        landed = "t.FILE_NAME, t.FILE_ROW_NUMBER, " if layer == "landing" else ""
        flagged = f"(SELECT {landed}{kept}, {flags} FROM {source} AS t{narrowed(where, f'({anyone})')})"
        for i, rule in enumerate(shared):
            value = quote(rule.column) if rule.column else "CAST(NULL AS VARCHAR)"
            parts.append(
                f"SELECT * FROM (SELECT {sql_literal(rule.name)} AS RULE_NAME, "
                f"{quote(key_column(rule))} AS FAILING_KEY, {located}, {value} AS FAILING_VALUE "
                f"FROM f WHERE F{i} LIMIT {int(cap)})"
            )
    for rule in rules:
        if rule.type != "unique":
            continue
        # every copy of a repeated value fails: the repeated values by a GROUP BY, then
        # their rows (at 10M landed rows 0.95 s against 1.23 s for a COUNT(*) window)
        value = unique_value(rule)
        parts.append(
            f"SELECT * FROM (SELECT {sql_literal(rule.name)} AS RULE_NAME, "
            f"CAST({quote(key_column(rule))} AS VARCHAR) AS FAILING_KEY, {located}, "
            f"CAST({quote(rule.column or '')} AS VARCHAR) AS FAILING_VALUE FROM {source} AS t"
            f"{narrowed(where, f'{value} IN (SELECT {value} FROM {source}{where} GROUP BY 1 HAVING COUNT(*) > 1)')} "
            f"LIMIT {int(cap)})"
        )
    cte = f"WITH f AS {flagged} " if shared else ""
    return (
        f"INSERT INTO {exceptions_table} (RUN_ID, RULE_NAME, FAILING_KEY, FILE_NAME, FILE_ROW_NUMBER, "
        "FAILING_VALUE, TABLE_NAME, LAYER, CHECKED_AT) "
        f"{cte}SELECT {sql_literal(run_id)}, u.*, {sql_literal(table)}, {sql_literal(layer)}, "
        f"SYSDATE() FROM ({' UNION ALL '.join(parts)}) AS u"
    )


# --------------------------------------------------------------------------- DDL

RESULTS_TABLE = "RULE_RESULTS"
EXCEPTIONS_TABLE = "RULE_EXCEPTIONS"


def ddl() -> str:
    """The QUALITY schema's tables (sql/060_quality.sql is generated from this)."""
    return (
        "-- Generated from the rule files by `make ddl`; do not edit by hand\n"
        "-- (tests/procedures/test_quality.py fails when this file and the module disagree).\n\n"
        "-- One row per rule per VALIDATE_DATA run: the verdict and a sample of failing keys.\n"
        f"CREATE TABLE IF NOT EXISTS <% database %>.<% quality_schema %>.{RESULTS_TABLE} (\n"
        "    RUN_ID VARCHAR NOT NULL,\n    RULE_NAME VARCHAR NOT NULL,\n    LAYER VARCHAR NOT NULL,\n"
        "    TABLE_NAME VARCHAR NOT NULL,\n    COLUMN_NAME VARCHAR,\n    RULE_TYPE VARCHAR NOT NULL,\n"
        "    SEVERITY VARCHAR NOT NULL,\n    OWNER VARCHAR NOT NULL,\n    BATCH_ID VARCHAR,\n"
        "    ROWS_CHECKED NUMBER(38, 0),\n    ROWS_FAILED NUMBER(38, 0),\n    VERDICT VARCHAR NOT NULL,\n"
        "    SAMPLE_KEYS VARCHAR,\n    DETAIL VARCHAR,\n    CHECKED_AT TIMESTAMP_NTZ NOT NULL\n)\n"
        "    COMMENT = 'Data-quality results history: one row per rule per run';\n\n"
        "-- The failing rows of each run (at most a cap per rule): key, file and row, value.\n"
        f"CREATE TABLE IF NOT EXISTS <% database %>.<% quality_schema %>.{EXCEPTIONS_TABLE} (\n"
        "    RUN_ID VARCHAR NOT NULL,\n    RULE_NAME VARCHAR NOT NULL,\n    FAILING_KEY VARCHAR,\n"
        "    FILE_NAME VARCHAR,\n    FILE_ROW_NUMBER NUMBER(38, 0),\n    FAILING_VALUE VARCHAR,\n"
        "    TABLE_NAME VARCHAR NOT NULL,\n    LAYER VARCHAR NOT NULL,\n    CHECKED_AT TIMESTAMP_NTZ NOT NULL\n)\n"
        "    COMMENT = 'Data-quality exceptions: the failing keys of each rule';\n"
    )
