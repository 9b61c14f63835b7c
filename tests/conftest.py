"""Test fixtures: real PostgreSQL and Redis, one fresh database per run.

``MALL_TEST_DATABASE_URL`` / ``MALL_TEST_REDIS_URL`` point at running servers;
without them the suite starts embedded ones in a temporary folder. Either way
the run creates its own database (schema built by the migrations), uses its
own Redis key prefix and queue, and drops both at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from redis.asyncio import Redis as AsyncRedis

T = TypeVar("T")
RUN_ID = uuid.uuid4().hex[:10]
# The environment is set before the application is imported.
os.environ["MALL_REDIS_PREFIX"] = f"mall-test-{RUN_ID}"
os.environ["MALL_SECRET_KEY"] = f"test-secret-{RUN_ID}-{uuid.uuid4().hex}"
os.environ.setdefault("MALL_LOG_LEVEL", "WARNING")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from litestar import Litestar  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402
from support import Servers, admin_sql, in_thread, with_database  # noqa: E402

from mall import migrate  # noqa: E402
from mall.auth.accounts import create_user  # noqa: E402
from mall.auth.models import OrgKind, User  # noqa: E402
from mall.db import create_engine, create_session_maker  # noqa: E402
from mall.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from mall.settings import Settings, get_settings  # noqa: E402


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    database_url = os.environ.get("MALL_TEST_DATABASE_URL")
    redis_url = os.environ.get("MALL_TEST_REDIS_URL")
    # Not under pytest's own temporary folder: another pytest run on the
    # machine resets that folder's permissions, which an embedded server
    # running as its own user would then lose.
    root = Path(tempfile.mkdtemp(prefix="mall-test-servers-"))
    if not database_url:
        pg = EmbeddedPostgres(root / "pg")
        database_url = pg.ensure_running()
        started.append(pg)
    if not redis_url:
        redis = EmbeddedRedis(root / "redis", persist=False)
        redis_url = redis.ensure_running()
        started.append(redis)
    try:
        yield Servers(admin_database_url=database_url, redis_url=redis_url)
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(servers: Servers) -> Iterator[str]:
    """A database of this run's own, migrated to head; dropped at the end."""
    name = f"mall_test_{RUN_ID}"
    admin_sql(servers.admin_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(servers.admin_database_url, name)
    try:
        in_thread(migrate.upgrade, url)
        yield url
    finally:
        admin_sql(servers.admin_database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url(servers: Servers) -> str:
    return servers.redis_url


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Settings:
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_maker(engine)


@pytest.fixture(scope="session")
async def redis(redis_url: str, settings: Settings) -> AsyncIterator[AsyncRedis]:
    client = AsyncRedis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session", autouse=True)
def _redis_left_clean(redis_url: str, settings: Settings) -> Iterator[None]:
    """At the end of the run, remove its keys from a shared Redis: the jobs its
    queue still holds (arq keeps those under its own prefix) and its own keys."""
    yield
    from redis import Redis

    prefix = settings.redis.key_prefix
    with Redis.from_url(redis_url) as redis:
        queued = [job.decode() for job in redis.zrange(settings.redis.queue_name, 0, -1)]
        keys = [f"arq:job:{job}" for job in queued]
        keys += list(redis.scan_iter(f"{prefix}:*", count=1000))
        # arq's results and counters of this run's jobs (their ids begin with the queue's name).
        keys += list(redis.scan_iter(f"arq:*:{settings.redis.queue_name}:*", count=1000))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])


@pytest.fixture(scope="session")
def app(settings: Settings, database_url: str, redis_url: str) -> Litestar:
    from mall.app import create_app

    return create_app(settings, database_url=database_url, redis_url=redis_url)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        _suite_relay.append(app.state.relay)
        yield test_client


# The outbox relay of the suite's application, once its client has started.
_suite_relay: list[object] = []


@pytest.fixture(autouse=True)
def _suite_relay_restored() -> Iterator[None]:
    """Tests that start an application, a worker or a relay of their own install
    its relay and remove it when they stop; each test ends with the suite
    application's relay installed again (bound to the suite's event loop), so
    later tests' commits are relayed at once. Not the relay found when the test
    began: a module's own server may have installed one that is gone by then."""
    from mall.jobs import outbox

    saved = outbox._relay
    yield
    outbox._relay = _suite_relay[0] if _suite_relay else saved  # type: ignore[assignment]


# The address Litestar's test client presents (the throttles count per address).
TEST_CLIENT_ADDRESS = "testclient"


@pytest.fixture(autouse=True)
def _fresh_login_throttle(request: pytest.FixtureRequest) -> None:
    """Each API test starts with no failed sign-ins and no public requests counted
    for the test client's address (every test client has the same one, so the
    counts would add up over the suite). The keys are named, not scanned for: a
    scan walks the whole of a shared Redis, once per test."""
    if "client" not in request.fixturenames:
        return
    from redis import Redis

    prefix = request.getfixturevalue("settings").redis.key_prefix
    with Redis.from_url(request.getfixturevalue("redis_url")) as redis:
        redis.delete(
            f"{prefix}:login:fail:addr:{TEST_CLIENT_ADDRESS}",
            f"{prefix}:public_rate_limit:RateLimitMiddleware::{TEST_CLIENT_ADDRESS}",
        )


@dataclass(frozen=True)
class Account:
    user: User
    email: str
    password: str
    kind: OrgKind
    org_name: str


class AccountFactory:
    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    async def __call__(self, kind: OrgKind, org_name: str | None = None) -> Account:
        suffix = uuid.uuid4().hex[:8]
        email = f"{kind.value}-{suffix}@test.example.com"
        password = f"pw-{suffix}-long"
        org_name = org_name or f"{kind.value} org {suffix}"
        async with self.session_maker() as session, session.begin():
            user = await create_user(
                session, kind=kind, org_name=org_name, email=email, password=password
            )
        return Account(user=user, email=email, password=password, kind=kind, org_name=org_name)


@pytest.fixture(scope="session")
def make_account(session_maker: async_sessionmaker[AsyncSession]) -> AccountFactory:
    return AccountFactory(session_maker)


class Login:
    def __init__(self, client: AsyncTestClient[Litestar]) -> None:
        self.client = client

    async def __call__(self, account: Account) -> dict[str, str]:
        """Sign in through the API; the Authorization header to send."""
        response = await self.client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": account.password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="session")
def login(client: AsyncTestClient[Litestar]) -> Login:
    return Login(client)


@pytest.fixture(scope="session")
async def signed_in(login: Login, make_account: AccountFactory) -> dict[OrgKind, dict[str, str]]:
    """Auth headers for one fresh user of each kind."""
    return {kind: await login(await make_account(kind)) for kind in OrgKind}
