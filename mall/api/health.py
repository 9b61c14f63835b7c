"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.plugins.prometheus import PrometheusController
from sqlalchemy import text


@get("/health", tags=["health"], summary="Liveness: the process answers", sync_to_thread=False)
def health() -> dict[str, str]:
    """Answers 200 while the process runs; checks nothing else. For a liveness probe."""
    return {"status": "ok"}


async def _check(coro: Any) -> str:
    try:
        await asyncio.wait_for(coro, timeout=2)
        return "ok"
    except Exception as exc:  # readiness reports every failure as a status
        return f"error: {type(exc).__name__}"


@get("/ready", tags=["health"], summary="Readiness: PostgreSQL and Redis reachable")
async def ready(request: Request) -> Response[dict[str, Any]]:
    """Checks that PostgreSQL and Redis answer: 200 with each one's state, or 503 when either does
    not. For a readiness probe.
    """
    state = request.app.state

    async def database() -> None:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    postgres, redis = await asyncio.gather(_check(database()), _check(state.redis.ping()))
    ok = postgres == "ok" and redis == "ok"
    body = {"status": "ready" if ok else "not_ready", "postgres": postgres, "redis": redis}
    return Response(body, status_code=200 if ok else 503)


class MetricsController(PrometheusController):
    """Prometheus metrics at ``/metrics``: for the scraper, not part of the client API."""

    include_in_schema = False
