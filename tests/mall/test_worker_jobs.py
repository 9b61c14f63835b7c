"""The worker on a real Redis: names per installation, retries, failures kept,
jobs arq lost asked for again, stalled work resumed, Redis outages survived."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from arq.connections import create_pool
from arq.constants import job_key_prefix
from arq.worker import func
from PIL import Image
from sqlalchemy import select, text
from support import new_notification, notification_delivered

from mall.auth.models import OrgKind
from mall.embedded import free_port, port_answers
from mall.jobs import failures
from mall.jobs.models import FailedJob, OutboxJob
from mall.jobs.outbox import Relay, arq_job_id, enqueue_job, install_relay
from mall.jobs.registry import MAX_TIMEOUT
from mall.jobs.worker import (
    ARQ_TIMEOUT_MARGIN,
    MallWorker,
    arq_redis_settings,
    create_worker,
    run_worker,
    worker_options,
)
from mall.notifications import service as notifications
from mall.search.service import SYNC_JOB, request_sync
from mall.settings import RedisSettings, Settings


@pytest.fixture(autouse=True)
def _no_suite_relay() -> None:
    """These tests drive relays and workers themselves: the suite application's
    relay must not deliver their commits first (it is installed again after
    each test)."""
    install_relay(None)


def _installation(settings: Settings, prefix: str) -> Settings:
    return replace(settings, redis=RedisSettings(url=settings.redis.url, key_prefix=prefix))


def _worker(settings: Settings, database_url: str, redis_url: str, *extra: Any) -> MallWorker:
    options = worker_options(settings, database_url, redis_url, burst=True)
    options["cron_jobs"] = []  # only what is queued
    options["functions"] = [*options["functions"], *extra]
    return MallWorker(**options)


async def _burst(worker: MallWorker) -> None:
    try:
        await worker.main()
    finally:
        await worker.close()


async def _failures(session_maker, job_name: str) -> list[FailedJob]:
    async with session_maker() as session:
        return list(await session.scalars(select(FailedJob).where(FailedJob.job_name == job_name)))


async def test_two_installations_on_one_redis_keep_their_jobs_and_crons_apart(
    session_maker, settings, database_url, redis_url, redis
) -> None:
    """The same job asked for by two installations is queued in each; their
    crons have names (hence job ids) of their own."""
    ours, theirs = settings, _installation(settings, f"other-{uuid.uuid4().hex[:8]}")
    key = uuid.uuid4().hex
    for installation in (ours, theirs):
        relay = Relay(
            session_maker, arq_redis_settings(redis_url, retries=0), installation.redis.queue_name
        )
        async with session_maker() as session, session.begin():
            await enqueue_job(
                session, notifications.DELIVER_JOB, key=key, notification_id=str(uuid.uuid4())
            )
        assert await relay.sweep() >= 1
        await relay.close()
    for installation in (ours, theirs):
        queue = installation.redis.queue_name
        job_id = arq_job_id(queue, f"{notifications.DELIVER_JOB}:{key}", 0)
        assert await redis.zscore(queue, job_id) is not None, queue
    theirs_id = arq_job_id(theirs.redis.queue_name, f"{notifications.DELIVER_JOB}:{key}", 0)
    await redis.delete(theirs.redis.queue_name, job_key_prefix + theirs_id)

    crons = {
        installation.redis.queue_name: [
            job.name for job in worker_options(installation, database_url, redis_url)["cron_jobs"]
        ]
        for installation in (ours, theirs)
    }
    assert all(
        name.startswith(f"{queue}:cron:") for queue, names in crons.items() for name in names
    )
    assert not set(crons[ours.redis.queue_name]) & set(crons[theirs.redis.queue_name])


async def test_a_lost_connection_is_retried_and_the_job_then_succeeds(
    session_maker, settings, database_url, redis_url
) -> None:
    runs: list[int] = []

    async def flaky(ctx: dict[str, Any]) -> str:
        runs.append(ctx["job_try"])
        async with ctx["session_maker"]() as session:
            if ctx["job_try"] == 1:  # the server drops this connection mid-job
                await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            await session.execute(text("SELECT 1"))
        return "ok"

    name = f"test.flaky.{uuid.uuid4().hex[:6]}"
    worker = _worker(
        settings, database_url, redis_url, func(failures.retrying(name, flaky, 3), name=name)
    )
    pool = await create_pool(
        arq_redis_settings(redis_url), default_queue_name=settings.redis.queue_name
    )
    try:
        job = await pool.enqueue_job(name, _job_id=f"{settings.redis.queue_name}:{name}")
        await _burst(worker)
        assert runs == [1, 2]
        assert (await job.result_info()).success
        assert await _failures(session_maker, name) == []
    finally:
        await pool.aclose()


async def test_a_job_that_fails_for_good_is_recorded_and_counted(
    session_maker, settings, database_url, redis_url
) -> None:
    async def broken(ctx: dict[str, Any], listing_id: str) -> None:
        raise ValueError(f"listing {listing_id} has no category")

    name = f"test.broken.{uuid.uuid4().hex[:6]}"
    worker = _worker(
        settings, database_url, redis_url, func(failures.retrying(name, broken, 5), name=name)
    )
    before = failures.JOBS_FAILED.labels(job=name)._value.get()
    pool = await create_pool(
        arq_redis_settings(redis_url), default_queue_name=settings.redis.queue_name
    )
    try:
        await pool.enqueue_job(name, listing_id="L1", _job_id=f"{settings.redis.queue_name}:{name}")
        await _burst(worker)
    finally:
        await pool.aclose()
    [failed] = await _failures(session_maker, name)
    assert failed.tries == 1  # not transient: no second try
    assert failed.kwargs == {"listing_id": "L1"}
    assert failed.error == "ValueError: listing L1 has no category"
    assert failures.JOBS_FAILED.labels(job=name)._value.get() == before + 1


async def test_a_job_past_its_time_limit_is_stopped_and_recorded(
    session_maker, settings, database_url, redis_url
) -> None:
    async def slow(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    name = f"test.slow.{uuid.uuid4().hex[:6]}"
    worker = _worker(
        settings,
        database_url,
        redis_url,
        func(failures.retrying(name, slow, 5, 0.5), name=name, timeout=2.5),
    )
    pool = await create_pool(
        arq_redis_settings(redis_url), default_queue_name=settings.redis.queue_name
    )
    try:
        await pool.enqueue_job(name, _job_id=f"{settings.redis.queue_name}:{name}")
        started = time.monotonic()
        await _burst(worker)
        assert time.monotonic() - started < 10
    finally:
        await pool.aclose()
    [failed] = await _failures(session_maker, name)
    assert failed.error == "TimeoutError: did not finish within 0.5 s"


async def test_a_job_arq_lost_is_asked_for_again_from_the_outbox(
    session_maker, make_account, settings, database_url, redis_url, redis
) -> None:
    """arq finds the job queued but its record gone ("expired"): the outbox row
    that asked for it is pending again and the next sweep delivers it."""
    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    relay = Relay(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    install_relay(relay)
    try:
        note_id = await new_notification(session_maker, org_id)
        await relay.close()
    finally:
        install_relay(None)
    job_id = arq_job_id(settings.redis.queue_name, f"{notifications.DELIVER_JOB}:{note_id}", 0)
    assert await redis.delete(job_key_prefix + job_id) == 1  # the record is lost

    await _burst(_worker(settings, database_url, redis_url))
    assert not await notification_delivered(session_maker, note_id)
    async with session_maker() as session:
        row = (
            await session.scalars(
                select(OutboxJob).where(
                    OutboxJob.job_id == f"{notifications.DELIVER_JOB}:{note_id}"
                )
            )
        ).one()
    assert row.enqueued_at is None and row.last_error == "job expired"

    sweeper = Relay(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    assert await sweeper.sweep() >= 1
    await sweeper.close()
    await _burst(_worker(settings, database_url, redis_url))
    assert await notification_delivered(session_maker, note_id)


async def test_a_queued_job_nobody_asked_for_through_the_outbox_is_recorded_when_lost(
    session_maker, settings, database_url, redis_url, redis
) -> None:
    job_id = f"{settings.redis.queue_name}:stray:{uuid.uuid4().hex}"
    await redis.zadd(settings.redis.queue_name, {job_id: 1})
    await _burst(_worker(settings, database_url, redis_url))
    async with session_maker() as session:
        failed = (await session.scalars(select(FailedJob).where(FailedJob.job_id == job_id))).one()
    assert "job expired" in failed.error


async def test_a_search_wake_up_after_a_finished_sync_is_queued(
    session_maker, settings, database_url, redis_url, redis
) -> None:
    """Two requests a moment apart, the first one's job done in between: the
    second is a job of its own (a job id per second took it for the first)."""
    relay = Relay(
        session_maker, arq_redis_settings(redis_url, retries=0), settings.redis.queue_name
    )
    install_relay(relay)
    try:
        async with session_maker() as session, session.begin():
            await request_sync(session)
        await relay.close()
        await _burst(_worker(settings, database_url, redis_url))
        assert await redis.zcard(settings.redis.queue_name) == 0
        install_relay(relay)
        async with session_maker() as session, session.begin():
            await request_sync(session)
        await relay.close()
    finally:
        install_relay(None)
    queued = [job.decode() for job in await redis.zrange(settings.redis.queue_name, 0, -1)]
    [wake_up] = [job for job in queued if f":{SYNC_JOB}:" in job]
    # Ahead of any backlog: arq starts due jobs in the order of their scores.
    assert await redis.zscore(settings.redis.queue_name, wake_up) < time.time() * 1000 - 60_000
    await _burst(_worker(settings, database_url, redis_url))


def test_every_job_kind_resumes_within_a_minute_of_its_worker_dying(
    settings, database_url, redis_url
) -> None:
    """arq keeps a job marked running for the worker's longest time limit plus
    10 s; after a kill -9 another worker takes the job once that mark expires."""
    worker = create_worker(settings, database_url, redis_url, burst=True)
    assert all(
        f.timeout_s is not None and f.timeout_s <= MAX_TIMEOUT + ARQ_TIMEOUT_MARGIN
        for f in worker.functions.values()
    )
    assert worker.in_progress_timeout_s <= 60


async def test_the_worker_survives_a_redis_outage_and_runs_what_was_asked_meanwhile(
    session_maker, make_account, settings, database_url, tmp_path
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start_redis() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            if port_answers(port):
                return server
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    org_id = (await make_account(OrgKind.SUPPLIER)).user.org_id
    server = start_redis()
    mall = _installation(settings, f"outage-{uuid.uuid4().hex[:8]}")
    worker = asyncio.create_task(run_worker(mall, database_url, url, backoff=(0.2, 0.5)))
    try:
        before = await new_notification(session_maker, org_id)  # swept at start-up
        for _ in range(100):
            if await notification_delivered(session_maker, before):
                break
            await asyncio.sleep(0.1)
        assert await notification_delivered(session_maker, before)

        server.kill()
        server.wait()
        await asyncio.sleep(1)
        assert not worker.done()
        during = await new_notification(session_maker, org_id)  # Redis is down: stays in the outbox
        server = start_redis()
        for _ in range(150):
            if await notification_delivered(session_maker, during):
                break
            await asyncio.sleep(0.1)
        assert await notification_delivered(session_maker, during)
        assert not worker.done()
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        server.kill()
        server.wait()


def test_mall_run_starts_a_dead_worker_again() -> None:
    from mall.cli import Respawned

    child = Respawned([sys.executable, "-c", "import sys; sys.exit(3)"], {})
    deadline = time.monotonic() + 10
    while child.restarts < 2 and time.monotonic() < deadline:
        child.check()
        time.sleep(0.05)
    assert child.restarts >= 2
    child.process.wait()


def _picture() -> bytes:
    """A product photo of its own (random colour blocks on white)."""
    rng = random.Random(uuid.uuid4().int)
    image = Image.new("RGB", (1000, 1000), "white")
    for row in range(8):
        for col in range(8):
            x, y = 200 + col * 75, 200 + row * 75
            image.paste(
                (rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 75, y + 75)
            )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def test_a_revision_left_submitted_is_reviewed_again(
    client, make_account, login, session_maker, settings, database_url, redis_url, redis
) -> None:
    """Its review job is gone from Redis: a minute later the cron asks for it
    again and the listing gets its decision; after three recorded failures it
    is no longer asked for."""
    from catalog.categories import seed_demo_categories
    from catalog.models import ListingRevision
    from mall.jobs.maintenance import requeue_stalled
    from mall.listings.service import REVIEW_JOB

    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    headers = await login(await make_account(OrgKind.SUPPLIER))
    model = f"S{uuid.uuid4().hex[:6]}"
    listing = (
        await client.post(
            "/api/v1/listings/",
            headers=headers,
            json={
                "category_code": "A090101",
                "brand": "得力",
                "model": model,
                "title": f"得力 {model} A4 复印纸 70g 500张/包",
                "price": "23.50",
                "unit": "包",
                "attributes": {"幅面": "A4", "克重": 70, "每包张数": 500},
            },
        )
    ).json()
    uploaded = await client.post(
        f"/api/v1/listings/{listing['id']}/images",
        headers=headers,
        files={"file": ("p.jpg", _picture(), "image/jpeg")},
    )
    assert uploaded.status_code == 201, uploaded.text
    submitted = await client.post(f"/api/v1/listings/{listing['id']}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    async with session_maker() as session, session.begin():
        revision = (
            await session.scalars(
                select(ListingRevision)
                .where(ListingRevision.listing_id == uuid.UUID(listing["id"]))
                .order_by(ListingRevision.number.desc())
            )
        ).first()
        revision_id = revision.id
        assert revision.status == "submitted"
        # A minute and more ago, and its job lost (as when Redis lost its data).
        await session.execute(
            text(
                "UPDATE listing_revision SET updated_at = now() - interval '2 minutes'"
                " WHERE id = :id"
            ),
            {"id": revision_id},
        )
    queue = settings.redis.queue_name
    job_id = arq_job_id(queue, f"{REVIEW_JOB}:{revision_id}", 0)
    await redis.zrem(queue, job_id)
    await redis.delete(job_key_prefix + job_id)

    pool = await create_pool(arq_redis_settings(redis_url), default_queue_name=queue)
    relay = Relay(session_maker, arq_redis_settings(redis_url, retries=0), queue)
    ctx = {"session_maker": session_maker, "queue_name": queue, "redis": pool}
    try:
        assert await requeue_stalled(ctx) >= 1
        await relay.sweep()
        await _burst(_worker(settings, database_url, redis_url))
        shown = (await client.get(f"/api/v1/listings/{listing['id']}", headers=headers)).json()
        assert shown["status"] != "submitted", shown

        # A revision whose review failed for good three times is not asked for again.
        async with session_maker() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE listing_revision SET status = 'submitted',"
                    " updated_at = now() - interval '2 minutes' WHERE id = :id"
                ),
                {"id": revision_id},
            )
            for _ in range(3):
                session.add(
                    FailedJob(
                        job_id=job_id,
                        job_name=REVIEW_JOB,
                        kwargs={},
                        tries=5,
                        error="ValueError: broken",
                    )
                )
        await requeue_stalled(ctx)
        async with session_maker() as session:
            pending = await session.scalar(
                select(OutboxJob.id).where(
                    OutboxJob.job_id == f"{REVIEW_JOB}:{revision_id}",
                    OutboxJob.enqueued_at.is_(None),
                )
            )
        assert pending is None
    finally:
        await relay.close()
        await pool.aclose()


async def test_a_long_import_works_in_chunks_that_resume(
    client, make_account, login, session_maker, settings
) -> None:
    """Past its time budget a run stops after a committed batch and asks for the
    next run, which starts from the first row not done."""
    from catalog.categories import seed_demo_categories
    from mall.listings import imports

    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    headers = await login(await make_account(OrgKind.SUPPLIER))
    header = (
        "brand,model,title,price,unit,stock,energy_cert_no,attr:CPU型号,attr:内存容量,attr:硬盘容量"
    )
    lines = [header] + [f"联想,M{i},标题,not-a-price,台,1,,i5,16,512" for i in range(2_500)]
    started = await client.post(
        "/api/v1/listings/import",
        headers=headers,
        data={"category": "A02010104"},
        files={"file": ("listings.csv", "\n".join(lines).encode(), "text/csv")},
    )
    import_id = uuid.UUID(started.json()["id"])
    seen = []
    for _ in range(5):
        job = await imports.run(session_maker, settings, import_id, budget_seconds=0)
        seen.append((job.status, job.rows_done))
        if job.status == "done":
            break
    assert seen == [("running", 1000), ("running", 2000), ("done", 2500)]
    async with session_maker() as session:
        asked = set(
            await session.scalars(
                select(OutboxJob.job_id).where(OutboxJob.job_id.like(f"%:{import_id}:%"))
            )
        )
    assert asked == {
        f"{imports.IMPORT_JOB}:{import_id}:1000",
        f"{imports.IMPORT_JOB}:{import_id}:2000",
    }


async def test_operators_list_failed_jobs_from_the_command_line(
    session_maker, database_url, redis_url
) -> None:
    name = f"test.listed.{uuid.uuid4().hex[:6]}"
    await failures.record_failure(
        session_maker,
        job_id=f"q:{name}",
        job_name=name,
        kwargs={"x": 1},
        tries=5,
        error="ValueError: 坏数据",
    )
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mall", "jobs", "failed", "--limit", "500"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    [ours] = [row for row in listed if row["job"] == name]
    assert (ours["tries"], ours["kwargs"], ours["error"]) == (5, {"x": 1}, "ValueError: 坏数据")
    assert "failed jobs in all" in result.stderr
