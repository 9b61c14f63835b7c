"""The arq worker: job functions, crons, and what each job finds in ``ctx``."""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings as ArqRedisSettings
from arq.worker import Worker, func

from mall.audit.jobs import checkpoint_audit_chain
from mall.db import create_engine, create_session_maker
from mall.jobs.outbox import Relay, install_relay
from mall.jobs.registry import registered_jobs
from mall.penalties.jobs import expire_penalties
from mall.pricing.jobs import enforce_price_deadlines, hourly_price_scan
from mall.search.jobs import sync_search_cron
from mall.settings import Settings
from mall.sla.jobs import sweep_sla_clocks
from mall.suppliers.jobs import lift_expired_suspensions, send_document_reminders

log = structlog.get_logger("mall.worker")


def arq_redis_settings(redis_url: str, *, retries: int = 5) -> ArqRedisSettings:
    settings = ArqRedisSettings.from_dsn(redis_url)
    settings.conn_retries = retries
    return settings


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Safety net: relay outbox rows that were not relayed at commit time."""
    relay: Relay = ctx["relay"]
    return await relay.sweep()


def worker_options(
    settings: Settings, database_url: str, redis_url: str, *, burst: bool = False
) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker``."""
    redis_settings = arq_redis_settings(redis_url)

    async def startup(ctx: dict[str, Any]) -> None:
        engine = create_engine(database_url, settings.database)
        ctx["engine"] = engine
        ctx["session_maker"] = create_session_maker(engine)
        ctx["relay"] = Relay(
            ctx["session_maker"],
            arq_redis_settings(redis_url, retries=0),
            settings.redis.queue_name,
            settings.jobs.outbox_batch_size,
        )
        install_relay(ctx["relay"])
        log.info("worker.started", queue=settings.redis.queue_name)

    async def shutdown(ctx: dict[str, Any]) -> None:
        install_relay(None)
        await ctx["relay"].close()
        await ctx["engine"].dispose()

    step = max(1, min(settings.jobs.outbox_sweep_seconds, 60))
    return {
        "functions": [func(fn, name=name) for name, fn in registered_jobs().items()],
        "cron_jobs": [
            cron(sweep_outbox, second=set(range(0, 60, step)), run_at_startup=True, unique=True),
            cron(sweep_sla_clocks, second={30}, unique=True),
            # Every minute: a suspended supplier's listings leave Meilisearch within one.
            cron(sync_search_cron, second={20}, unique=True),
            cron(hourly_price_scan, minute={7}, second={0}, unique=True),
            cron(enforce_price_deadlines, minute=set(range(2, 60, 5)), second={45}, unique=True),
            cron(expire_penalties, minute=set(range(0, 60, 5)), second={10}, unique=True),
            cron(lift_expired_suspensions, minute=set(range(0, 60, 5)), second={15}, unique=True),
            # Hourly (at least daily is required): a deleted newest audit row shows.
            cron(checkpoint_audit_chain, minute={53}, second={0}, unique=True),
            # 01:00 Beijing time
            cron(send_document_reminders, hour={17}, minute={0}, second={0}, unique=True),
        ],
        "queue_name": settings.redis.queue_name,
        "redis_settings": redis_settings,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "burst": burst,
        "handle_signals": not burst,
        "max_tries": 5,
        # Idle workers look for new jobs ten times a second: decisions land quickly.
        "poll_delay": 0.1,
        "job_timeout": 600,
    }


def create_worker(
    settings: Settings, database_url: str, redis_url: str, *, burst: bool = False
) -> Worker:
    return Worker(**worker_options(settings, database_url, redis_url, burst=burst))
