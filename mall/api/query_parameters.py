"""Unknown query parameters are refused, once for every route.

A misspelled parameter (``pgae=2``) or one an endpoint does not take
(``page`` where it pages otherwise) would otherwise be ignored silently and the
caller would get a plausible but wrong answer. Each handler's declared query
parameters (its own and its dependencies', under the names the caller sends)
are read once from the routes Litestar built; a request naming any other is 422.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.routes import HTTPRoute

from mall.errors import InvalidError

_STATE_KEY = "declared_query_parameters"


def declared_query_parameters(app: Litestar) -> dict[int, frozenset[str] | None]:
    """Handler id → the query parameter names it takes (``None``: it reads the whole query)."""
    table: dict[int, frozenset[str] | None] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, model in route.route_handler_map.values():
            if "query" in model.expected_reserved_kwargs:
                table[id(handler)] = None
            else:
                table[id(handler)] = frozenset(p.field_alias for p in model.expected_query_params)
    return table


def _table(app: Litestar) -> dict[int, frozenset[str] | None]:
    table = app.state.get(_STATE_KEY)
    if table is None:
        table = declared_query_parameters(app)
        app.state[_STATE_KEY] = table
    return table


async def refuse_unknown_query_parameters(request: Request[Any, Any, Any]) -> None:
    """App-level ``before_request`` hook: 422 naming each query parameter the route lacks."""
    if not request.scope.get("query_string"):
        return
    declared = _table(request.app).get(id(request.route_handler), frozenset())
    if declared is None:
        return
    unknown = sorted(set(request.query_params) - declared)
    if not unknown:
        return
    accepted = ", ".join(sorted(declared)) or "none"
    raise InvalidError(
        f"Unknown query parameter(s): {', '.join(unknown)}; this endpoint accepts: {accepted}.",
        code="request.unknown_parameter",
        title="请求包含未知的查询参数",
        errors=[
            {
                "field": name,
                "source": "query",
                "message": f"unknown parameter; accepted: {accepted}",
                "message_zh": f"未知参数；可用参数：{accepted if declared else '无'}",
            }
            for name in unknown
        ],
    )
