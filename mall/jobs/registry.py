"""Job functions known to the worker, by name.

A job is ``async def job(ctx, **kwargs)``: it opens its own session from
``ctx["session_maker"]``, loads what it needs (a missing row is a named error,
not a crash), delegates to a service and commits. Running it twice must do
no more than running it once.

Each kind of job has its own time limit. arq keeps a job marked as running
for the longest limit of the worker plus 10 s; a job whose worker died is
picked up again only after that, so no limit exceeds ``MAX_TIMEOUT`` and a
job with more to do works in chunks (each commits its progress; the next
chunk is a new job).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]

# With the worker's 2 s backstop and arq's 10 s margin, work abandoned by a
# dead worker resumes within a minute.
MAX_TIMEOUT = 45
DEFAULT_TIMEOUT = 30


@dataclass(frozen=True)
class JobKind:
    name: str
    function: JobFunction
    timeout: int = DEFAULT_TIMEOUT


_JOBS: dict[str, JobKind] = {}


def job(name: str, *, timeout: int = DEFAULT_TIMEOUT) -> Callable[[JobFunction], JobFunction]:
    """Register a job under a stable name (the name is what the outbox stores)
    with its time limit in seconds."""
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"job {name!r}: timeout must be within 1..{MAX_TIMEOUT} s")

    def register(function: JobFunction) -> JobFunction:
        if name in _JOBS and _JOBS[name].function is not function:
            raise ValueError(f"job {name!r} is registered twice")
        _JOBS[name] = JobKind(name, function, timeout)
        return function

    return register


def registered_jobs() -> dict[str, JobKind]:
    """Every job kind, by name."""
    # Importing the modules that define jobs registers them.
    import mall.listings.jobs
    import mall.notifications.jobs
    import mall.pricing.jobs
    import mall.search.jobs
    import mall.sla.jobs
    import mall.suppliers.jobs  # noqa: F401

    return dict(_JOBS)
