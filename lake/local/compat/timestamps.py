"""Timestamps: a TRY_CAST to a timestamp stays a TRY_CAST; results sent to the
connector in UTC.
"""

from __future__ import annotations

from typing import Any

import fakesnow.arrow as fakesnow_arrow
import fakesnow.cursor
import fakesnow.transforms
from sqlglot import exp


def _safe_try_cast(to_timestamp: Any) -> Any:
    def wrapped(expression: exp.Expr) -> exp.Expr:
        if isinstance(expression, exp.TryCast) and expression.to.this in (
            exp.DataType.Type.TIMESTAMP,
            exp.DataType.Type.TIMESTAMPNTZ,
        ):
            return exp.TryCast(this=expression.this, to=exp.DataType.build("TIMESTAMP"))
        return to_timestamp(expression)

    return wrapped


def utc_timestamps(to_struct: Any) -> Any:
    """fakesnow sends zoned timestamps to the connector only from UTC arrays; with the
    server in Snowflake's default zone (lake/local/strict.py, timezone) DuckDB answers in
    America/Los_Angeles. The same instants, relabelled UTC, are what the wire carries."""
    import pyarrow as pa

    def wrapped(ts: Any) -> Any:
        if isinstance(ts.type, pa.TimestampType) and ts.type.tz and ts.type.tz != "UTC":
            ts = ts.cast(pa.timestamp(ts.type.unit, tz="UTC"))
        return to_struct(ts)

    return wrapped


def patch_timestamps() -> None:
    fakesnow.transforms.to_timestamp = _safe_try_cast(fakesnow.transforms.to_timestamp)
    fakesnow_arrow.timestamp_to_sf_struct = utc_timestamps(fakesnow_arrow.timestamp_to_sf_struct)
