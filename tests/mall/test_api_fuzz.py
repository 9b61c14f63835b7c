"""Property-based requests against the mall's own OpenAPI document (schemathesis).

Every operation is tried as anonymous, supplier, purchaser and operator, with
a fixed seed and a bounded number of examples each. No answer may be a server
error, and each answer must match the document. The run has a database of its
own (migrated like the suite's, seeded with one account per role), so what the
fuzzer writes (calendar years, categories, tokens) reaches no other test, and a
real server (uvicorn on a free port), so requests go through HTTP as a client's
would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from support import admin_sql, in_thread, with_database

from mall import migrate
from mall.auth.models import OrgKind
from mall.settings import RedisSettings, Settings

# Examples per operation; each is sent once per role. 126 operations at this
# size take about three minutes on two busy cores.
EXAMPLES_PER_OPERATION = 4
ROLES = ("anonymous", OrgKind.SUPPLIER, OrgKind.PURCHASER, OrgKind.OPERATOR)
# Operations that would end the roles' sessions for every later operation
# (each is tested on its own elsewhere).
SKIPPED = {"POST /api/v1/auth/logout", "POST /api/v1/me/password"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _create_accounts(database_url: str) -> dict[OrgKind, tuple[str, str]]:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.pool import NullPool

    from mall.auth.accounts import create_user

    engine = create_async_engine(database_url, poolclass=NullPool)
    accounts = {}
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            for kind in ROLES[1:]:
                email = f"fuzz-{kind.value}@test.example.com"
                password = f"fuzz-{uuid.uuid4().hex}"
                await create_user(
                    session,
                    kind=kind,
                    org_name=f"fuzz {kind.value}",
                    email=email,
                    password=password,
                )
                accounts[kind] = (email, password)
    finally:
        await engine.dispose()
    return accounts


@dataclasses.dataclass(frozen=True)
class FuzzServer:
    base_url: str
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def fuzz_server(servers, settings: Settings, redis_url: str) -> Iterator[FuzzServer]:
    from mall.app import create_app

    name = f"mall_fuzz_{uuid.uuid4().hex[:10]}"
    fuzz_redis = dataclasses.replace(settings.redis, key_prefix=f"{settings.redis.key_prefix}-fuzz")
    admin_sql(servers.admin_database_url, f'CREATE DATABASE "{name}"')
    database_url = with_database(servers.admin_database_url, name)
    server = None
    thread = None
    try:
        in_thread(migrate.upgrade, database_url)
        accounts = in_thread(asyncio.run, _create_accounts(database_url))
        # The public rate limit would answer most public requests 429; a Redis
        # prefix (and so a job queue) of its own keeps the jobs the run enqueues
        # from the workers other tests start.
        roomy = dataclasses.replace(
            settings,
            mall=dataclasses.replace(settings.mall, public_requests_per_minute=100_000),
            redis=fuzz_redis,
        )
        app = create_app(roomy, database_url=database_url, redis_url=redis_url)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port}"
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for kind, (email, password) in accounts.items():
            response = httpx.post(
                f"{base_url}/api/v1/auth/login", json={"email": email, "password": password}
            )
            assert response.status_code == 200, response.text
            headers[kind.value] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        yield FuzzServer(base_url=base_url, headers=headers)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=30)
        admin_sql(servers.admin_database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _remove_redis_keys(redis_url, fuzz_redis)


def _remove_redis_keys(redis_url: str, fuzz_redis: RedisSettings) -> None:
    """The run's queued jobs and its own keys."""
    from redis import Redis

    prefix, queue = fuzz_redis.key_prefix, fuzz_redis.queue_name
    with Redis.from_url(redis_url) as redis:
        keys = [f"arq:job:{job.decode()}" for job in redis.zrange(queue, 0, -1)]
        keys += [queue, *redis.scan_iter(f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])


@dataclasses.dataclass
class Findings:
    """What the run found, one entry per operation, role and check (the first example)."""

    server_errors: dict[str, str] = dataclasses.field(default_factory=dict)
    nonconforming: dict[str, str] = dataclasses.field(default_factory=dict)
    operations: int = 0
    requests: int = 0
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:600]


@pytest.fixture(scope="module")
def findings(fuzz_server: FuzzServer) -> Findings:
    """Run every operation of the document: generated examples, each sent as every role."""
    api = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/schema/openapi.json")
    found = Findings()
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        found.operations += 1

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,  # the same examples on every run
            phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            label = case.operation.label
            for role in ROLES:
                role_name = role if isinstance(role, str) else role.value
                response = case.call(
                    base_url=fuzz_server.base_url, headers=fuzz_server.headers[role_name]
                )
                found.requests += 1
                for check, into in (
                    (not_a_server_error, found.server_errors),
                    (response_schema_conformance, found.nonconforming),
                ):
                    key = f"{label} as {role_name}"
                    if key in into:
                        continue
                    try:
                        case.validate_response(response, checks=[check])
                    except (Exception, BaseExceptionGroup) as exc:  # record it, go on
                        into[key] = f"{response.status_code}: {_first_line(exc)}"

        started = time.monotonic()
        run()
        found.seconds[operation.label] = round(time.monotonic() - started, 1)
    return found


def _report(entries: dict[str, str]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in sorted(entries.items()))


def test_no_operation_answers_a_server_error(findings: Findings) -> None:
    slowest = sorted(findings.seconds.items(), key=lambda item: -item[1])[:8]
    print(f"{findings.operations} operations, {findings.requests} requests; slowest: {slowest}")
    assert findings.operations > 50 and findings.requests > findings.operations * len(ROLES)
    assert not findings.server_errors, _report(findings.server_errors)


def test_every_answer_matches_the_document(findings: Findings) -> None:
    assert not findings.nonconforming, _report(findings.nonconforming)
