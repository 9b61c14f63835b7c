"""Writing jobs into the outbox and relaying them to arq after commit.

``enqueue_job`` adds a row in the caller's transaction. When that transaction
commits, the relay of this process (if one is installed) moves the new rows
to Redis at once, together with those of other commits waiting for it; the
worker's periodic sweep moves whatever is left (Redis was down, the process
died), so a job is delayed at worst, never lost. The arq job id is
deterministic (``<queue>:<job name>:<key>``) and a job id arq already holds is not
queued again, so a row relayed twice is queued once, and jobs themselves are
written to be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings as ArqRedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from sqlalchemy import BigInteger, Row, any_, bindparam, event, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from mall.jobs.models import OutboxJob

log = structlog.get_logger("mall.outbox")

_PENDING = "mall.outbox.pending"
_relay: Relay | None = None

# KEYS: the queue, then each job's job key and result key; ARGV: the job key's
# lifetime in ms, then each job's score (when it may start), id and payload.
# What ``ArqRedis.enqueue_job`` does for one job (queue it unless arq holds its
# job or result key), for many jobs in one atomic call.
_QUEUE_NEW_JOBS = """
local queued = 0
for i = 1, (#KEYS - 1) / 2 do
    local job_key, result_key = KEYS[2 * i], KEYS[2 * i + 1]
    if redis.call('EXISTS', job_key, result_key) == 0 then
        redis.call('PSETEX', job_key, ARGV[1], ARGV[3 * i + 1])
        redis.call('ZADD', KEYS[1], ARGV[3 * i - 1], ARGV[3 * i])
        queued = queued + 1
    end
end
return queued
"""
# arq starts due jobs in the order of their scores: a wake-up (a sync, cheap
# and what freshness waits for) goes before the backlog, not behind it.
_WAKE_UP_SCORE = 1

_outbox = OutboxJob.__table__


def _claim(*, given: bool) -> Any:
    """Mark undelivered rows delivered and return them: the oldest batch, or
    those among ``:ids``. Rows another relay holds are skipped. The mark only
    lasts if the transaction commits, which happens once Redis has the jobs."""
    pending = (
        select(_outbox.c.id)
        .where(_outbox.c.enqueued_at.is_(None))
        .order_by(_outbox.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    if given:
        pending = pending.where(_outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    return (
        update(_outbox)
        .where(_outbox.c.id.in_(pending.scalar_subquery()))
        .values(enqueued_at=func.now())
        .returning(_outbox.c.id, _outbox.c.job_name, _outbox.c.job_id, _outbox.c.kwargs)
    )


_CLAIM_OLDEST = _claim(given=False)
_CLAIM_GIVEN = _claim(given=True)
_FAILED = (
    update(_outbox)
    .where(_outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    .where(_outbox.c.enqueued_at.is_(None))
    .values(attempts=_outbox.c.attempts + 1, last_error=bindparam("error"))
)


# A wake-up row's key: commits that ask while one is waiting in the outbox
# share it; each delivery of it is a job of its own (see ``arq_job_id``).
WAKE_UP = "wake"


def job_id_for(job_name: str, key: object) -> str:
    """The outbox's id for a job: unique within one installation."""
    return f"{job_name}:{key}"


def arq_job_id(queue_name: str, job_id: str, row_id: int) -> str:
    """The id arq holds the job under. arq's keys (``arq:job:<id>``,
    ``arq:result:<id>``, …) are global to the Redis database, so the id begins
    with the queue's name (itself derived from ``MALL_REDIS_PREFIX``): two
    installations on one Redis never share a job. A wake-up job's id ends with
    its outbox row, so a wake-up asked for after an earlier one started is
    queued, not taken for the earlier one."""
    if job_id.endswith(f":{WAKE_UP}"):
        return f"{queue_name}:{job_id}:{row_id}"
    return f"{queue_name}:{job_id}"


async def enqueue_job(session: AsyncSession, job_name: str, *, key: object, **kwargs: Any) -> bool:
    """Ask for ``job_name(**kwargs)`` once the current transaction commits.

    ``key`` makes the job id: a second request with the same key while the
    first is undelivered is the same job. Returns False in that case. The key
    ``WAKE_UP`` asks for "one more run after this commit" (see ``arq_job_id``).
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
    """Moves committed outbox rows to the arq queue, many rows at a time.

    Commits hand their row ids to ``schedule``; one drain task per relay
    delivers them. While a delivery is in flight, the ids of later commits
    wait and then go together: under load each delivery carries the rows of
    many requests, when idle a commit is relayed at once. A delivery is one
    transaction that claims and marks the rows (one UPDATE), one Redis call
    that queues every job not already known to arq, and the commit; if Redis
    fails, the claim is rolled back and the rows stay for the sweep.
    """

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
        self._script: AsyncScript | None = None
        self._waiting: list[int] = []
        self._drainer: asyncio.Task[None] | None = None
        # The loop the relay's connections belong to (set when installed).
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _get_pool(self) -> tuple[ArqRedis, AsyncScript]:
        if self._pool is None or self._script is None:
            self._pool = await create_pool(self.redis_settings, default_queue_name=self.queue_name)
            self._script = self._pool.register_script(_QUEUE_NEW_JOBS)
        return self._pool, self._script

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
        self._waiting.extend(ids)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        # Ids that arrive while a delivery is in flight go in the next one.
        while self._waiting:
            ids, self._waiting = self._waiting, []
            for start in range(0, len(ids), self.batch_size):
                await self.deliver(ids[start : start + self.batch_size])

    async def deliver(self, ids: Sequence[int] | None = None) -> int:
        """Relay undelivered rows (the given ones, or the oldest batch); returns how many."""
        if ids is None:
            claim, params = _CLAIM_OLDEST, {"limit": self.batch_size}
        else:
            claim, params = _CLAIM_GIVEN, {"ids": list(ids), "limit": self.batch_size}
        try:
            async with self.session_maker() as session:
                rows = (await session.execute(claim, params)).all()
                if not rows:
                    await session.rollback()
                    return 0
                try:
                    await self._queue(rows)
                except (RedisError, OSError) as exc:
                    # Nothing is marked: the rows stay for the sweep, counted.
                    await session.rollback()
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    await self._drop_pool()
                    log.warning("outbox.redis_unavailable", error=error)
                    await session.execute(
                        _FAILED, {"ids": [row.id for row in rows], "error": error}
                    )
                    await session.commit()
                    return 0
                await session.commit()
                return len(rows)
        except Exception:  # a relay failure must never break the caller
            log.exception("outbox.relay_failed")
            return 0

    async def _queue(self, rows: Sequence[Row[Any]]) -> int:
        """Queue the rows' jobs in one atomic Redis call; returns how many were new.

        Like ``ArqRedis.enqueue_job`` for each row: a job id that arq already
        holds (queued, running, or with a kept result) is left alone.
        """
        pool, script = await self._get_pool()
        now_ms = timestamp_ms()
        keys: list[str] = [self.queue_name]
        args: list[str | bytes | int] = [pool.expires_extra_ms]
        for row in rows:
            job_id = arq_job_id(self.queue_name, row.job_id, row.id)
            keys += [job_key_prefix + job_id, result_key_prefix + job_id]
            args += [
                _WAKE_UP_SCORE if job_id.endswith(f":{WAKE_UP}:{row.id}") else now_ms,
                job_id,
                serialize_job(
                    row.job_name, (), row.kwargs, None, now_ms, serializer=pool.job_serializer
                ),
            ]
        return int(await script(keys=keys, args=args))

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
        pool, self._pool, self._script = self._pool, None, None
        if pool is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                await pool.aclose()

    async def close(self) -> None:
        """Finish the deliveries under way, then close the connection."""
        if self._drainer is not None:
            await asyncio.gather(self._drainer, return_exceptions=True)
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


# An outbox row may be asked for again this many times after arq lost its job.
REARM_LIMIT = 3


async def rearm_expired(
    session_maker: async_sessionmaker[AsyncSession], redis: Any, queue_name: str, arq_id: str
) -> bool:
    """arq found a job of ours queued without its record (``expired``): make
    the outbox row that asked for it pending again, so that the sweep queues
    it anew. False when no such row exists or it was asked for too often."""
    prefix = f"{queue_name}:"
    if not arq_id.startswith(prefix):
        return False
    job_id = arq_id.removeprefix(prefix)
    query = select(_outbox.c.id, _outbox.c.attempts).where(_outbox.c.enqueued_at.is_not(None))
    head, _, row_id = job_id.rpartition(f":{WAKE_UP}:")
    if head and row_id.isdigit():  # a wake-up: its id names the row
        job_id = f"{head}:{WAKE_UP}"
        query = query.where(_outbox.c.id == int(row_id))
    async with session_maker() as session, session.begin():
        row = (
            await session.execute(
                query.where(_outbox.c.job_id == job_id)
                .order_by(_outbox.c.id.desc())
                .limit(1)
                .with_for_update()
            )
        ).first()
        if row is None or row.attempts >= REARM_LIMIT:
            return False
        pending = await session.scalar(
            select(_outbox.c.id).where(_outbox.c.job_id == job_id, _outbox.c.enqueued_at.is_(None))
        )
        if pending is None:
            await session.execute(
                update(_outbox)
                .where(_outbox.c.id == row.id)
                .values(enqueued_at=None, attempts=_outbox.c.attempts + 1, last_error="job expired")
            )
    # arq stored the failure as the job's result; the relay would take it for done.
    await redis.delete(result_key_prefix + arq_id)
    return True
