"""The arq worker: job functions, crons, and what each job finds in ``ctx``.

Names in Redis come from ``MALL_REDIS_PREFIX``: the queue is
``<prefix>:queue``, and every job id, crons' included, begins with the queue's
name, so installations (and test runs) sharing one Redis never skip or run
each other's jobs. ``run_worker`` keeps a worker going across Redis outages.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings as ArqRedisSettings
from arq.jobs import deserialize_result
from arq.typing import WorkerCoroutine
from arq.worker import Worker, func
from redis.exceptions import RedisError

from catalog.search import text as search_text
from mall.audit.jobs import checkpoint_audit_chain
from mall.db import create_engine, create_session_maker
from mall.jobs import failures
from mall.jobs.maintenance import requeue_stalled
from mall.jobs.outbox import Relay, install_relay, rearm_expired
from mall.jobs.registry import DEFAULT_TIMEOUT, registered_jobs
from mall.penalties.jobs import expire_penalties
from mall.pricing.jobs import enforce_price_deadlines, hourly_price_scan
from mall.search.jobs import sync_search_cron
from mall.settings import Settings
from mall.sla.jobs import sweep_sla_clocks
from mall.suppliers.jobs import lift_expired_suspensions, send_document_reminders

log = structlog.get_logger("mall.worker")

MAX_TRIES = 5
# Each job stops itself at its own limit (and is recorded); arq's limit, a
# little later, is only the backstop.
ARQ_TIMEOUT_MARGIN = 2
# Seconds between attempts to reach Redis again after the worker lost it.
RECONNECT_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)


def arq_redis_settings(redis_url: str, *, retries: int = 5) -> ArqRedisSettings:
    settings = ArqRedisSettings.from_dsn(redis_url)
    settings.conn_retries = retries
    return settings


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Safety net: relay outbox rows that were not relayed at commit time."""
    relay: Relay = ctx["relay"]
    return await relay.sweep()


class MallWorker(Worker):
    """arq's worker, with the jobs arq fails without running them recorded.

    arq fails a job without calling it when its record has gone (``expired``),
    its function is unknown, or its tries are used up (after timeouts or dead
    workers). Such a job is recorded in ``failed_job`` like any other; an
    expired one that the outbox asked for is asked for again instead.
    """

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await super().finish_failed_job(job_id, result_data)
        name, kwargs, tries, error = "<unknown>", {}, 0, "failed before it ran"
        if result_data is not None:
            with contextlib.suppress(Exception):
                result = deserialize_result(result_data, deserializer=self.job_deserializer)
                name, kwargs, tries = result.function, dict(result.kwargs), result.job_try
                error = failures.describe(result.result)
        session_maker = self.ctx.get("session_maker")
        if session_maker is None:
            return
        if "job expired" in error and await rearm_expired(
            session_maker, self.pool, self.queue_name, job_id
        ):
            log.warning("job.expired_requeued", job_id=job_id)
            return
        await failures.record_failure(
            session_maker, job_id=job_id, job_name=name, kwargs=kwargs, tries=tries, error=error
        )


def _cron(settings: Settings, coroutine: WorkerCoroutine, **when: Any) -> Any:
    name = coroutine.__name__  # type: ignore[attr-defined]
    return cron(
        failures.retrying(name, coroutine, 1, DEFAULT_TIMEOUT),
        # arq's cron job id is "<name>:<time>": the queue's name makes it ours.
        name=f"{settings.redis.queue_name}:cron:{name}",
        unique=True,
        timeout=DEFAULT_TIMEOUT + ARQ_TIMEOUT_MARGIN,
        **when,
    )


def worker_options(
    settings: Settings, database_url: str, redis_url: str, *, burst: bool = False
) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker``."""
    redis_settings = arq_redis_settings(redis_url)

    async def startup(ctx: dict[str, Any]) -> None:
        engine = create_engine(database_url, settings.database)
        ctx["engine"] = engine
        ctx["session_maker"] = create_session_maker(engine)
        ctx["queue_name"] = settings.redis.queue_name
        ctx["relay"] = Relay(
            ctx["session_maker"],
            arq_redis_settings(redis_url, retries=0),
            settings.redis.queue_name,
            settings.jobs.outbox_batch_size,
        )
        install_relay(ctx["relay"])
        # The segmenter's dictionary, loaded before the first search sync needs it.
        await asyncio.to_thread(search_text.warm_up)
        log.info("worker.started", queue=settings.redis.queue_name)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if ctx.pop("stopped", False):
            return
        ctx["stopped"] = True
        install_relay(None)
        await ctx["relay"].close()
        await ctx["engine"].dispose()

    step = max(1, min(settings.jobs.outbox_sweep_seconds, 60))
    return {
        "functions": [
            func(
                failures.retrying(name, kind.function, MAX_TRIES, kind.timeout),
                name=name,
                timeout=kind.timeout + ARQ_TIMEOUT_MARGIN,
                max_tries=MAX_TRIES,
            )
            for name, kind in registered_jobs().items()
        ],
        "cron_jobs": [
            _cron(settings, sweep_outbox, second=set(range(0, 60, step)), run_at_startup=True),
            _cron(settings, requeue_stalled, second={40}),
            _cron(settings, sweep_sla_clocks, second={30}),
            # Every minute: a suspended supplier's listings leave Meilisearch within one.
            _cron(settings, sync_search_cron, second={20}),
            _cron(settings, hourly_price_scan, minute={7}, second={0}),
            _cron(settings, enforce_price_deadlines, minute=set(range(2, 60, 5)), second={45}),
            _cron(settings, expire_penalties, minute=set(range(0, 60, 5)), second={10}),
            _cron(settings, lift_expired_suspensions, minute=set(range(0, 60, 5)), second={15}),
            # Hourly (at least daily is required), and when the worker starts, so a new
            # installation publishes its first checkpoint at once: a deleted newest
            # audit row shows.
            _cron(settings, checkpoint_audit_chain, minute={53}, second={0}, run_at_startup=True),
            # 01:00 Beijing time
            _cron(settings, send_document_reminders, hour={17}, minute={0}, second={0}),
        ],
        "queue_name": settings.redis.queue_name,
        "redis_settings": redis_settings,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "burst": burst,
        "handle_signals": not burst,
        "max_tries": MAX_TRIES,
        # Idle workers look for new jobs ten times a second: decisions land quickly.
        "poll_delay": 0.1,
        "job_timeout": DEFAULT_TIMEOUT + ARQ_TIMEOUT_MARGIN,
    }


def create_worker(
    settings: Settings, database_url: str, redis_url: str, *, burst: bool = False
) -> MallWorker:
    return MallWorker(**worker_options(settings, database_url, redis_url, burst=burst))


async def _close(worker: Worker) -> None:
    """Close a worker whose Redis may be gone: its database side is closed anyway."""
    try:
        await worker.close()
    except (RedisError, OSError) as exc:
        log.info("worker.closed_without_redis", error=failures.describe(exc))
    if worker.on_shutdown is not None and "engine" in worker.ctx:
        with contextlib.suppress(Exception):
            await worker.on_shutdown(worker.ctx)


async def run_worker(
    settings: Settings,
    database_url: str,
    redis_url: str,
    *,
    backoff: tuple[float, ...] = RECONNECT_BACKOFF,
) -> None:
    """Run the worker until it is stopped (a signal, or cancellation).

    When Redis goes away (at start or while running), the worker is closed,
    and a new one connects after a pause that grows with each failure (reset
    once a worker has run for a minute). Jobs queued meanwhile are in Redis or
    in the outbox, and the new worker runs them.
    """
    failed = 0
    while True:
        worker = create_worker(settings, database_url, redis_url)
        started = asyncio.get_running_loop().time()
        try:
            await worker.async_run()
            return
        except (RedisError, OSError) as exc:
            if asyncio.get_running_loop().time() - started > 60:
                failed = 0
            pause = backoff[min(failed, len(backoff) - 1)]
            failed += 1
            log.warning(
                "worker.redis_lost", error=failures.describe(exc), reconnect_in_seconds=pause
            )
        finally:
            await _close(worker)
        await asyncio.sleep(pause)
