"""Jobs written in the transaction that wants them reach the worker, even when
Redis is down at commit time."""

from __future__ import annotations

import asyncio
import uuid

from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from arq.worker import Worker
from sqlalchemy import select
from support import new_notification

from mall.auth.models import OrgKind
from mall.embedded import free_port
from mall.jobs.models import OutboxJob
from mall.jobs.outbox import Relay, arq_job_id, enqueue_job, install_relay
from mall.jobs.worker import arq_redis_settings, worker_options
from mall.notifications import service as notifications
from mall.notifications.models import Notification


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
        note_id = await new_notification(session_maker, org_id)
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
        note_id = await new_notification(session_maker, org_id)
        await relay.close()  # waits for the after-commit delivery
    finally:
        install_relay(None)
    row = await _outbox_row(session_maker, note_id)
    assert row.enqueued_at is not None and row.attempts == 0
    await _run_worker(settings, database_url, redis_url)
    async with session_maker() as session:
        assert (await session.get(Notification, note_id)).delivered_at is not None


async def _queued_at(redis, settings, job_id: str) -> int | None:
    """When arq's record of this job was written (None: arq holds no such job)."""
    job_id = arq_job_id(settings.redis.queue_name, job_id, 0)
    payload = await redis.get(job_key_prefix + job_id)
    if payload is None:
        return None
    assert await redis.zscore(settings.redis.queue_name, job_id) is not None
    return deserialize_job(payload).enqueue_time.timestamp()


async def test_commits_that_wait_for_the_relay_go_in_one_delivery(
    session_maker, make_account, settings, redis_url, redis
) -> None:
    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    relay = Relay(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    deliveries: list[list[int]] = []
    first_may_finish = asyncio.Event()
    deliver = relay.deliver

    async def held_first_delivery(ids=None) -> int:
        deliveries.append(list(ids))
        if len(deliveries) == 1:
            await first_may_finish.wait()
        return await deliver(ids)

    relay.deliver = held_first_delivery
    install_relay(relay)
    try:
        first = await new_notification(session_maker, org_id)
        await asyncio.sleep(0)  # the first delivery starts and is held
        later = [await new_notification(session_maker, org_id) for _ in range(4)]
        first_may_finish.set()
        await relay.close()
    finally:
        install_relay(None)
    rows = [await _outbox_row(session_maker, note_id) for note_id in [first, *later]]
    assert deliveries == [[rows[0].id], [row.id for row in rows[1:]]]
    assert all(row.enqueued_at is not None and row.attempts == 0 for row in rows)
    for row in rows:
        assert await _queued_at(redis, settings, row.job_id) is not None


class _CrashAfterQueueing(Relay):
    """Dies (as a process would) after Redis has the jobs, before the rows are marked."""

    async def _queue(self, rows):
        await super()._queue(rows)
        raise RuntimeError("process died")


async def test_crash_between_queueing_and_marking_leaves_rows_for_the_sweep(
    session_maker, make_account, settings, database_url, redis_url, redis
) -> None:
    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    crashing = _CrashAfterQueueing(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    install_relay(crashing)
    try:
        note_id = await new_notification(session_maker, org_id)
        await crashing.close()
    finally:
        install_relay(None)
    row = await _outbox_row(session_maker, note_id)
    assert row.enqueued_at is None and row.attempts == 0
    assert await _queued_at(redis, settings, row.job_id) is not None

    # The job runs; arq keeps its result, so the sweep must not queue it again.
    await _run_worker(settings, database_url, redis_url)
    async with session_maker() as session:
        assert (await session.get(Notification, note_id)).delivered_at is not None
    live = Relay(session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name)
    try:
        assert await live.sweep() >= 1
    finally:
        await live.close()
    assert (await _outbox_row(session_maker, note_id)).enqueued_at is not None
    assert await _queued_at(redis, settings, row.job_id) is None
    queued = arq_job_id(settings.redis.queue_name, row.job_id, row.id)
    assert await redis.zscore(settings.redis.queue_name, queued) is None


async def test_a_row_relayed_twice_is_queued_once(
    session_maker, make_account, settings, redis_url, redis
) -> None:
    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    crashing = _CrashAfterQueueing(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    install_relay(crashing)
    try:
        note_id = await new_notification(session_maker, org_id)
        await crashing.close()
    finally:
        install_relay(None)
    row = await _outbox_row(session_maker, note_id)
    queued_at = await _queued_at(redis, settings, row.job_id)
    assert row.enqueued_at is None and queued_at is not None

    relays = [
        Relay(session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name)
        for _ in range(2)
    ]
    try:
        delivered = await asyncio.gather(*(relay.deliver([row.id]) for relay in relays))
        assert sorted(delivered) == [0, 1]  # one relay claims the row, the other skips it
        assert await relays[0].deliver([row.id]) == 0  # marked: nothing left to relay
    finally:
        for relay in relays:
            await relay.close()
    assert (await _outbox_row(session_maker, note_id)).enqueued_at is not None
    # arq's record is the first one: still queued, not written again.
    assert await _queued_at(redis, settings, row.job_id) == queued_at


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
    note_id = await new_notification(session_maker, org_id)
    async with session_maker() as session, session.begin():
        assert await notifications.deliver(session, note_id) is True
    async with session_maker() as session, session.begin():
        assert await notifications.deliver(session, note_id) is False
