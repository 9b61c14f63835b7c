"""Job functions known to the worker, by name.

A job is ``async def job(ctx, **kwargs)``: it opens its own session from
``ctx["session_maker"]``, loads what it needs (a missing row is a named error,
not a crash), delegates to a service and commits. Running it twice must do
no more than running it once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]

_JOBS: dict[str, JobFunction] = {}


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register a job under a stable name (the name is what the outbox stores)."""

    def register(function: JobFunction) -> JobFunction:
        if name in _JOBS and _JOBS[name] is not function:
            raise ValueError(f"job {name!r} is registered twice")
        _JOBS[name] = function
        return function

    return register


def registered_jobs() -> dict[str, JobFunction]:
    # Importing the modules that define jobs registers them.
    import mall.listings.jobs
    import mall.notifications.jobs
    import mall.pricing.jobs
    import mall.search.jobs
    import mall.sla.jobs
    import mall.suppliers.jobs  # noqa: F401

    return dict(_JOBS)
