"""For speed alone: fakesnow's 76 sqlglot transforms rewrite one copy of a statement in
place instead of each deep-copying it; the DuckDB SQL that comes out is the same
(tests/lake/test_compat.py).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import fakesnow.cursor
import fakesnow.transforms
from sqlglot import exp

_chain = threading.local()


_expr_transform = exp.Expression.transform


def _transform_in_place(self: exp.Expression, fun: Any, *args: Any, copy: bool = True, **kwargs: Any) -> Any:
    """``Expression.transform``; a link of fakesnow's chain (``transform_once``) skips its copy,
    while a transform function's own ``transform`` calls still copy as they expect."""
    if not getattr(_chain, "active", False):
        return _expr_transform(self, fun, *args, copy=copy, **kwargs)
    _chain.active = False
    try:
        return _expr_transform(self, fun, *args, copy=False, **kwargs)
    finally:
        _chain.active = True


def transform_once(chain: Any) -> Any:
    """fakesnow's ``_transform`` over one copy of the statement, rewritten in place."""

    @functools.wraps(chain)
    def wrapped(self: Any, expression: exp.Expr, params: Any) -> exp.Expr:
        copied = expression.copy()
        _chain.active = True
        try:
            return chain(self, copied, params)
        finally:
            _chain.active = False

    return wrapped


def patch_transform_once() -> None:
    cursor_cls = fakesnow.cursor.FakeSnowflakeCursor
    exp.Expression.transform = _transform_in_place  # type: ignore[method-assign]
    cursor_cls._transform = transform_once(cursor_cls._transform)  # type: ignore[method-assign]
