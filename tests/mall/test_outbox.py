"""Jobs written in the transaction that wants them reach the worker, even when
Redis is down at commit time."""

from __future__ import annotations

import asyncio
import uuid

from arq.worker import Worker
from sqlalchemy import select

from mall.auth.models import OrgKind
from mall.embedded import free_port
from mall.jobs.models import OutboxJob
from mall.jobs.outbox import Relay, enqueue_job, install_relay
from mall.jobs.worker import arq_redis_settings, worker_options
from mall.notifications import service as notifications
from mall.notifications.models import Notification


async def _notify(session_maker, org_id) -> uuid.UUID:
    async with session_maker() as session, session.begin():
        note = await notifications.notify(
            session, org_id=org_id, kind="test.outbox", title_zh="测试", title_en="Test"
        )
    return note.id


async def _outbox_row(session_maker, note_id) -> OutboxJob:
    async with session_maker() as session:
        return (
            await session.scalars(
                select(OutboxJob).where(OutboxJob.job_id == f"deliver_notification:{note_id}")
            )
        ).one()


async def _run_worker(settings, database_url, redis_url) -> None:
    options = worker_options(settings, database_url, redis_url, burst=True)
    options["cron_jobs"] = []  # only what is queued
    worker = Worker(**options)
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_redis_down_at_commit_delays_but_loses_nothing(
    session_maker, make_account, settings, database_url, redis_url
) -> None:
    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    dead = Relay(
        session_maker,
        arq_redis_settings(f"redis://127.0.0.1:{free_port()}/0", retries=0),
        settings.redis.queue_name,
    )
    install_relay(dead)
    try:
        note_id = await _notify(session_maker, org_id)
        await asyncio.sleep(0)  # let the after-commit delivery run
        await dead.close()
    finally:
        install_relay(None)
    row = await _outbox_row(session_maker, note_id)
    assert row.enqueued_at is None
    assert row.attempts >= 1 and "Error" in (row.last_error or "")

    live = Relay(session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name)
    try:
        assert await live.sweep() >= 1
        assert await live.sweep() == 0  # nothing left, nothing sent twice
    finally:
        await live.close()
    assert (await _outbox_row(session_maker, note_id)).enqueued_at is not None

    await _run_worker(settings, database_url, redis_url)
    async with session_maker() as session:
        assert (await session.get(Notification, note_id)).delivered_at is not None


async def test_delivered_right_after_commit_when_redis_is_up(
    session_maker, make_account, settings, database_url, redis_url
) -> None:
    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    relay = Relay(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    install_relay(relay)
    try:
        note_id = await _notify(session_maker, org_id)
        await relay.close()  # waits for the after-commit delivery
    finally:
        install_relay(None)
    row = await _outbox_row(session_maker, note_id)
    assert row.enqueued_at is not None and row.attempts == 0
    await _run_worker(settings, database_url, redis_url)
    async with session_maker() as session:
        assert (await session.get(Notification, note_id)).delivered_at is not None


async def test_rolled_back_work_enqueues_nothing(session_maker) -> None:
    key = uuid.uuid4().hex
    async with session_maker() as session, session.begin():
        await enqueue_job(session, "deliver_notification", key=key, notification_id=key)
        await session.rollback()
    async with session_maker() as session:
        found = await session.scalars(
            select(OutboxJob).where(OutboxJob.job_id == f"deliver_notification:{key}")
        )
        assert found.all() == []


async def test_same_key_while_pending_is_one_job(session_maker) -> None:
    key = uuid.uuid4().hex
    async with session_maker() as session, session.begin():
        assert await enqueue_job(session, "deliver_notification", key=key, notification_id=key)
        assert not await enqueue_job(session, "deliver_notification", key=key, notification_id=key)
    async with session_maker() as session:
        found = await session.scalars(
            select(OutboxJob).where(OutboxJob.job_id == f"deliver_notification:{key}")
        )
        assert len(found.all()) == 1


async def test_jobs_are_idempotent(session_maker, make_account) -> None:
    org_id = (await make_account(OrgKind.PURCHASER)).user.org_id
    note_id = await _notify(session_maker, org_id)
    async with session_maker() as session, session.begin():
        assert await notifications.deliver(session, note_id) is True
    async with session_maker() as session, session.begin():
        assert await notifications.deliver(session, note_id) is False
