"""Writing jobs into the outbox and relaying them to arq after commit.

``enqueue_job`` adds a row in the caller's transaction. When that transaction
commits, the relay of this process (if one is installed) moves the new rows
to Redis at once; the worker's periodic sweep moves whatever is left (Redis
was down, the process died), so a job is delayed at worst, never lost. The
arq job id is deterministic (``<job name>:<key>``), so a row relayed twice is
queued once, and jobs themselves are written to be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterable
from typing import Any

import structlog
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings as ArqRedisSettings
from redis.exceptions import RedisError
from sqlalchemy import event, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from mall.jobs.models import OutboxJob

log = structlog.get_logger("mall.outbox")

_PENDING = "mall.outbox.pending"
_relay: Relay | None = None


def job_id_for(job_name: str, key: object) -> str:
    return f"{job_name}:{key}"


async def enqueue_job(session: AsyncSession, job_name: str, *, key: object, **kwargs: Any) -> bool:
    """Ask for ``job_name(**kwargs)`` once the current transaction commits.

    ``key`` makes the job id: a second request with the same key while the
    first is undelivered is the same job. Returns False in that case.
    """
    stmt = (
        insert(OutboxJob)
        .values(job_name=job_name, job_id=job_id_for(job_name, key), kwargs=kwargs)
        .on_conflict_do_nothing(index_elements=["job_id"], index_where=text("enqueued_at IS NULL"))
        .returning(OutboxJob.id)
    )
    row_id = (await session.execute(stmt)).scalar_one_or_none()
    if row_id is None:
        return False
    session.info.setdefault(_PENDING, []).append(row_id)
    return True


class Relay:
    """Moves committed outbox rows to the arq queue."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        redis_settings: ArqRedisSettings,
        queue_name: str,
        batch_size: int = 500,
    ) -> None:
        self.session_maker = session_maker
        self.redis_settings = redis_settings
        self.queue_name = queue_name
        self.batch_size = batch_size
        self._pool: ArqRedis | None = None
        self._tasks: set[asyncio.Task[int]] = set()
        # The loop the relay's connections belong to (set when installed).
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _get_pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(self.redis_settings, default_queue_name=self.queue_name)
        return self._pool

    def schedule(self, ids: list[int]) -> None:
        """Deliver these rows soon, without making the caller wait."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        loop = self._loop or current
        if loop is None:
            return  # no loop (a sync caller): the sweep will deliver them
        if loop is current:
            self._track(ids)
        else:  # committed on another loop: deliver on the relay's own
            loop.call_soon_threadsafe(self._track, ids)

    def _track(self, ids: list[int]) -> None:
        task = asyncio.get_running_loop().create_task(self.deliver(ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, ids: Iterable[int] | None = None) -> int:
        """Relay undelivered rows (the given ones, or the oldest batch); returns how many."""
        try:
            async with self.session_maker() as session, session.begin():
                query = (
                    select(OutboxJob)
                    .where(OutboxJob.enqueued_at.is_(None))
                    .order_by(OutboxJob.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
                if ids is not None:
                    query = query.where(OutboxJob.id.in_(list(ids)))
                rows = (await session.execute(query)).scalars().all()
                return await self._send(rows)
        except Exception:  # a relay failure must never break the caller
            log.exception("outbox.relay_failed")
            return 0

    async def _send(self, rows: Iterable[OutboxJob]) -> int:
        delivered = 0
        error: str | None = None
        for row in rows:
            if error is None:
                try:
                    pool = await self._get_pool()
                    # None means arq already holds this job id: delivered before.
                    await pool.enqueue_job(row.job_name, _job_id=row.job_id, **row.kwargs)
                    row.enqueued_at = dt.datetime.now(dt.UTC)
                    delivered += 1
                    continue
                except (RedisError, OSError) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    await self._drop_pool()
                    log.warning("outbox.redis_unavailable", error=error)
            row.attempts += 1
            row.last_error = error
        return delivered

    async def sweep(self) -> int:
        """Relay every undelivered row, batch after batch."""
        total = 0
        while True:
            delivered = await self.deliver()
            total += delivered
            if delivered < self.batch_size:
                break
        if total:
            log.info("outbox.swept", delivered=total)
        return total

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                await pool.aclose()

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drop_pool()


def install_relay(relay: Relay | None) -> None:
    """Make ``relay`` deliver what this process's transactions commit (call it
    from the event loop whose connections the relay uses)."""
    global _relay  # noqa: PLW0603 - one relay per process, installed at start-up
    if relay is not None:
        relay._loop = asyncio.get_running_loop()
    _relay = relay


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids and _relay is not None:
        _relay.schedule(ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
