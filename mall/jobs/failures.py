"""Which job errors are worth another try, and what a job that fails for good leaves.

arq retries a job only when it raises ``arq.Retry``; any other exception
fails it at once, whatever ``max_tries`` says. ``retrying`` wraps every job:
a transient error (a lost connection, a serialization failure, a deadlock,
a busy server) becomes ``Retry`` with exponential backoff while tries are
left; anything else, or the last try, is recorded in ``failed_job``, counted
in ``mall_jobs_failed_total`` and logged, then re-raised so that arq keeps its
failed result too.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from arq import Retry
from prometheus_client import Counter
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mall.jobs.models import FailedJob

log = structlog.get_logger("mall.jobs")

JOBS_FAILED = Counter("mall_jobs_failed_total", "Jobs that failed for good, by job", ["job"])
JOBS_RETRIED = Counter(
    "mall_jobs_retried_total", "Job runs that hit a transient error and were retried", ["job"]
)

# SQLSTATE classes and codes that mean "try again": connection exceptions (08),
# serialization failure, deadlock, insufficient resources (53), operator
# intervention (57, e.g. the server shutting down), lock not available.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InterfaceError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    sa_errors.TimeoutError,  # no pooled connection came free in time
    ConnectionError,
    TimeoutError,
)
BACKOFF_CAP_SECONDS = 60.0


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_transient(exc: BaseException) -> bool:
    """Whether the error says "try again later" rather than "this job is wrong"."""
    for error in _chain(exc):
        if isinstance(error, sa_errors.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, _TRANSIENT_TYPES):
            return True
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate in _TRANSIENT_SQLSTATES or sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
        ):
            return True
    return False


def backoff_seconds(job_try: int) -> float:
    """1, 2, 4, … s (capped at a minute), with jitter so retries spread out."""
    base = min(2.0 ** max(job_try - 1, 0), BACKOFF_CAP_SECONDS)
    return base * random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not a secret


async def record_failure(
    session_maker: async_sessionmaker[AsyncSession],
    *,
    job_id: str,
    job_name: str,
    kwargs: dict[str, Any],
    tries: int,
    error: str,
) -> None:
    """Write the failure row and count it (the one writer of ``failed_job``)."""
    JOBS_FAILED.labels(job=job_name).inc()
    log.error("job.failed", job=job_name, job_id=job_id, tries=tries, error=error)
    try:
        async with session_maker() as session, session.begin():
            session.add(
                FailedJob(
                    job_id=job_id[:300],
                    job_name=job_name[:100],
                    kwargs=_json_safe(kwargs),
                    tries=tries,
                    error=error[:4000],
                )
            )
    except Exception:  # the database may be what failed: the log line stays
        log.exception("job.failure_not_recorded", job=job_name, job_id=job_id)


def _json_safe(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        str(k): v if isinstance(v, str | int | float | bool | None) else repr(v)
        for k, v in kwargs.items()
    }


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def retrying(
    name: str,
    function: Callable[..., Awaitable[Any]],
    max_tries: int,
    timeout: float | None = None,
) -> Callable[..., Awaitable[Any]]:
    """``function`` as an arq job that retries transient errors and records
    failures (see the module docstring). With ``timeout``, a run that takes
    longer is stopped and recorded as failed (arq's own limit, set a little
    higher, would fail it without a record)."""

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        limit = asyncio.timeout(timeout)
        try:
            async with limit:
                return await function(ctx, *args, **kwargs)
        except Retry:
            raise
        except Exception as exc:
            job_try = int(ctx.get("job_try") or 1)
            error = describe(exc)
            if limit.expired():
                error = f"TimeoutError: did not finish within {timeout} s"
            elif is_transient(exc) and job_try < max_tries:
                JOBS_RETRIED.labels(job=name).inc()
                delay = backoff_seconds(job_try)
                log.warning(
                    "job.retrying",
                    job=name,
                    try_=job_try,
                    in_seconds=round(delay, 2),
                    error=error,
                )
                raise Retry(defer=delay) from exc
            await record_failure(
                ctx["session_maker"],
                job_id=str(ctx.get("job_id", "")),
                job_name=name,
                kwargs=kwargs,
                tries=job_try,
                error=error,
            )
            raise

    return run


async def list_failed(session: AsyncSession, *, limit: int = 50) -> tuple[int, list[FailedJob]]:
    """The newest failures first, and how many there are in all."""
    total = (await session.execute(select(func.count()).select_from(FailedJob))).scalar_one()
    rows = await session.scalars(
        select(FailedJob).order_by(FailedJob.failed_at.desc(), FailedJob.id.desc()).limit(limit)
    )
    return total, list(rows)
