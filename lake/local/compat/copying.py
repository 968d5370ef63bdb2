"""COPY INTO as Snowflake reads files: CSV fields as text with the file format's
delimiter, no Hive partition columns, JSON files, and transformations with
``$1:name``, ``$N``, METADATA$FILENAME and METADATA$FILE_ROW_NUMBER.
"""

from __future__ import annotations

from typing import Any

import fakesnow.copy_into as copy_into
from sqlglot import exp


def csv_options(call: exp.Expr, delimiter: str) -> exp.Expr:
    """A fakesnow ``read_csv(...)`` call read as Snowflake reads a CSV file: fields as the
    text they are ("007" stays "007"); split on the file format's delimiter, never a
    sniffed one (fakesnow leaves the default comma unsaid, and DuckDB then guesses: a
    ``;`` file loaded as columns locally and as one column on Snowflake); and a skipped
    header read as the header, so a file holding only its header line still has its
    columns (0 rows) instead of one column and a failed positional reference."""
    make_eq = copy_into.FileTypeHandler.make_eq
    args = call.expressions
    names = {a.this.name.lower() for a in args if isinstance(a, exp.EQ)}
    if "skip" in names:
        kept = [a for a in args if not (isinstance(a, exp.EQ) and a.this.name.lower() in ("skip", "header"))]
        call.set("expressions", [*kept, make_eq("header", True)])
    if "sep" not in names:
        call.append("expressions", make_eq("sep", delimiter))
    call.append("expressions", make_eq("all_varchar", True))
    return call


def _without_hive_partitions(read_expression: Any) -> Any:
    def wrapped(self: Any, url: str) -> exp.Expr:
        call = read_expression(self, url)
        call.append("expressions", copy_into.FileTypeHandler.make_eq("hive_partitioning", False))
        if isinstance(self, copy_into.ReadCSV):
            call = csv_options(call, self.delimiter or ",")
        return call

    return wrapped


class ReadJSON(copy_into.FileTypeHandler):
    """Newline-delimited JSON, for COPY with a transformation."""

    def read_expression(self, url: str) -> exp.Expr:
        return exp.func(
            "read_json",
            exp.Literal(this=url, is_string=True),
            self.make_eq("format", "newline_delimited"),
            self.make_eq("hive_partitioning", False),
        )


def _params_with_json(params_fn: Any) -> Any:
    def wrapped(expr: exp.Copy, params: Any = None) -> Any:
        json_format = None
        for param in expr.args.get("params", []):
            if isinstance(param.this, exp.Var) and param.this.name.upper() == "FILE_FORMAT":
                for prop in param.expressions:
                    value = prop.args.get("value")
                    if prop.name.upper() == "TYPE" and value is not None and value.name.upper() == "JSON":
                        json_format = param
        if json_format is None:
            return params_fn(expr, params)
        rest = [p for p in expr.args["params"] if p is not json_format]
        stripped = expr.copy()
        stripped.set("params", [p.copy() for p in rest])
        result = params_fn(stripped, params)
        result.file_format = ReadJSON()
        return result

    return wrapped


def _is_file_row_number(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) and node.name.upper() == "METADATA$FILE_ROW_NUMBER"


def _inserts_with_transformation(inserts_fn: Any) -> Any:
    """COPY ... FROM (SELECT ...): one INSERT per file, with the columns translated."""

    def wrapped(expr: exp.Copy, params: Any, urls: list[str], parquet_info: Any = None) -> Any:
        from_ = expr.args["files"][0]
        if not isinstance(from_, exp.Subquery):
            return inserts_fn(expr, params, urls, parquet_info)
        select = from_.this
        parquet = isinstance(params.file_format, copy_into.ReadParquet)
        inserts = []
        for url in urls:
            name = metadata_filename(url)
            columns = []
            for projection in select.expressions:
                node = projection.copy()
                node = node.transform(lambda e, name=name, parquet=parquet: _translate(e, name, parquet))
                columns.append(node)
            source = params.file_format.read_expression(url)
            if parquet and any(_is_file_row_number(e) for p in select.expressions for e in p.walk()):
                source.append("expressions", copy_into.FileTypeHandler.make_eq("file_row_number", True))
            inserts.append(
                exp.Insert(
                    this=expr.this,
                    expression=exp.Select(expressions=columns).from_(exp.Table(this=source)),
                    by_name=False,
                )
            )
        return inserts

    return wrapped


def metadata_filename(url: str) -> str:
    """``METADATA$FILENAME`` as Snowflake gives it for an external stage: the file's path
    in the bucket, the stage URL's prefix included (lake/local/strict.py, metadata_filename)."""
    if url.startswith("s3://"):
        return url.split("/", 3)[3] if url.count("/") >= 3 else ""
    return url


def _translate(node: exp.Expr, file_name: str, parquet: bool) -> exp.Expr:
    """One projection of a COPY transformation, in terms of DuckDB's file readers."""
    if isinstance(node, exp.JSONExtract) and isinstance(node.this, exp.Parameter):
        key = node.expression.find(exp.JSONPathKey)
        if key is not None:
            return exp.Column(this=exp.Identifier(this=key.this, quoted=True))
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return exp.Var(this=f"#{node.this.this}")  # $N: the Nth column of a CSV file
    if isinstance(node, exp.Column) and node.name.upper() == "METADATA$FILENAME":
        return exp.Literal(this=file_name, is_string=True)
    if _is_file_row_number(node):
        if parquet:
            return exp.Add(
                this=exp.Column(this=exp.Identifier(this="file_row_number")), expression=exp.Literal.number(1)
            )
        return exp.Window(this=exp.RowNumber())
    return node


def patch_copy() -> None:
    for reader in (copy_into.ReadCSV, copy_into.ReadParquet):
        reader.read_expression = _without_hive_partitions(reader.read_expression)  # type: ignore[method-assign]
    copy_into._params = _params_with_json(copy_into._params)
    copy_into._inserts = _inserts_with_transformation(copy_into._inserts)
