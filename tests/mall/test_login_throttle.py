"""Login throttling: slow for a guesser, never a lock-out of the owner; the client
address behind trusted proxies; signing in and the public pages without Redis."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid

import httpx
import pytest
import structlog

from mall.auth.addresses import client_address, parse_networks
from mall.auth.counters import RedisCounters
from mall.auth.models import OrgKind
from mall.auth.throttle import LoginThrottle

LOGIN = "/api/v1/auth/login"


def _from(app, address: str) -> httpx.AsyncClient:
    """A client whose requests come from this address (the app already started)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://mall.test")


@contextlib.asynccontextmanager
async def _started(app):
    """Run the app's lifespan in this test's loop; its engine disposed afterwards."""
    try:
        async with app.lifespan():
            yield
    finally:
        await app.state.engine.dispose()


@pytest.fixture(scope="module")
async def own_app(settings, database_url, redis_url):
    """An app of this module's own, served in the tests' event loop (the shared
    one is served in its test client's loop, which its connections belong to)."""
    from mall.app import create_app

    app = create_app(settings, database_url=database_url, redis_url=redis_url)
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        # The lifespan is entered and left in one task of its own.
        async with _started(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(serve())
    await started.wait()
    try:
        yield app
    finally:
        stop.set()
        await task


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.7", ["198.51.100.1"], "", "203.0.113.7"),  # no proxy configured
        ("203.0.113.7", ["198.51.100.1"], "10.0.0.0/8", "203.0.113.7"),  # peer not a proxy
        ("10.0.0.2", ["198.51.100.1"], "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", ["1.1.1.1, 198.51.100.1, 10.0.0.3"], "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", ["1.1.1.1", "198.51.100.1"], "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", [], "10.0.0.0/8", "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.9"], "10.0.0.0/8", "10.0.0.9"),
        ("10.0.0.2", ["not-an-ip"], "10.0.0.0/8", "10.0.0.2"),
        ("::1", ["2001:db8::5"], "::1, 127.0.0.1", "2001:db8::5"),
    ],
)
def test_client_address(peer, forwarded, trusted, expected) -> None:
    assert client_address(peer, forwarded, parse_networks(trusted)) == expected


async def test_a_guesser_elsewhere_does_not_lock_the_owner_out(
    own_app, make_account, settings
) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    free = settings.auth.login_free_failures
    attacker, owner = _address(), _address()
    async with _from(own_app, attacker) as guesser, _from(own_app, owner) as own:
        for _ in range(free + 1):
            wrong = await guesser.post(LOGIN, json={"email": account.email, "password": "guess-1"})
            assert wrong.status_code == 401
        # The guesser now waits, even with the right password...
        slowed = await guesser.post(
            LOGIN, json={"email": account.email, "password": account.password}
        )
        assert slowed.status_code == 429
        assert slowed.json()["code"] == "auth.login_throttled"
        wait = int(slowed.headers["retry-after"])
        assert 0 < wait <= settings.auth.login_base_delay_seconds
        # ...while the owner, from its own address, signs in at once,
        mine = await own.post(LOGIN, json={"email": account.email, "password": account.password})
        assert mine.status_code == 200
        # and the wait ends by itself: a backoff, not a fixed lock.
        await asyncio.sleep(wait + 0.2)
        later = await guesser.post(
            LOGIN, json={"email": account.email, "password": account.password}
        )
        assert later.status_code == 200


async def test_the_wait_doubles_with_each_failure(redis, settings) -> None:
    throttle = LoginThrottle(
        counters=RedisCounters(redis),
        prefix=f"{settings.redis.key_prefix}:{uuid.uuid4().hex[:6]}",
        window_seconds=60,
        free_failures=2,
        base_delay_seconds=1,
        max_delay_seconds=4,
        max_per_address=1000,
    )
    delays = [await throttle.record_failure("a@x.cn", "10.1.1.1") for _ in range(6)]
    assert delays == [0, 0, 1, 2, 4, 4]
    assert 0 < (await throttle.retry_after("a@x.cn", "10.1.1.1") or 0) <= 4
    assert await throttle.retry_after("a@x.cn", "10.1.1.2") is None
    await throttle.record_success("a@x.cn", "10.1.1.1")
    assert await throttle.retry_after("a@x.cn", "10.1.1.1") is None
    assert await throttle.record_failure("a@x.cn", "10.1.1.1") == 0


async def test_a_school_behind_one_address_is_not_shut_out(own_app, make_account) -> None:
    school = _address()
    async with _from(own_app, school) as campus:
        # 40 teachers mistyping their passwords once each, behind one NAT address.
        for i in range(40):
            response = await campus.post(
                LOGIN, json={"email": f"teacher-{i}-{school}@test.example.com", "password": "typo"}
            )
            assert response.status_code == 401, i
        account = await make_account(OrgKind.PURCHASER)
        ok = await campus.post(LOGIN, json={"email": account.email, "password": account.password})
        assert ok.status_code == 200


async def test_the_address_ceiling_stops_spraying(redis, settings) -> None:
    throttle = LoginThrottle(
        counters=RedisCounters(redis),
        prefix=f"{settings.redis.key_prefix}:{uuid.uuid4().hex[:6]}",
        window_seconds=60,
        free_failures=5,
        base_delay_seconds=1,
        max_delay_seconds=4,
        max_per_address=10,
    )
    for i in range(10):
        await throttle.record_failure(f"user{i}@x.cn", "10.2.2.2")
    assert 0 < (await throttle.retry_after("someone@x.cn", "10.2.2.2") or 0) <= 60
    assert await throttle.retry_after("someone@x.cn", "10.2.2.3") is None


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    own_app, make_account, settings
) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    async with _from(own_app, _address()) as peer:
        for i in range(settings.auth.login_free_failures + 1):
            await peer.post(
                LOGIN,
                json={"email": account.email, "password": "guess"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
        spoofed = await peer.post(
            LOGIN,
            json={"email": account.email, "password": account.password},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
        assert spoofed.status_code == 429


async def test_forwarded_for_names_the_client_behind_a_trusted_proxy(
    settings, database_url, redis_url, make_account
) -> None:
    from mall.app import create_app

    proxied = dataclasses.replace(
        settings, auth=dataclasses.replace(settings.auth, trusted_proxies="10.200.0.0/16")
    )
    app = create_app(proxied, database_url=database_url, redis_url=redis_url)
    account = await make_account(OrgKind.SUPPLIER)
    async with _started(app), _from(app, "10.200.0.1") as proxy:
        for _ in range(settings.auth.login_free_failures + 1):
            await proxy.post(
                LOGIN,
                json={"email": account.email, "password": "guess"},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )
        guesser = await proxy.post(
            LOGIN,
            json={"email": account.email, "password": account.password},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert guesser.status_code == 429
        owner = await proxy.post(
            LOGIN,
            json={"email": account.email, "password": account.password},
            headers={"X-Forwarded-For": "198.51.100.8"},
        )
        assert owner.status_code == 200


async def test_without_redis_login_and_public_pages_still_answer(
    settings, database_url, make_account
) -> None:
    from mall.app import create_app

    limited = dataclasses.replace(
        settings, mall=dataclasses.replace(settings.mall, public_requests_per_minute=3)
    )
    # Nothing listens on port 1: every Redis call fails at once.
    app = create_app(limited, database_url=database_url, redis_url="redis://127.0.0.1:1/0")
    account = await make_account(OrgKind.PURCHASER)
    with structlog.testing.capture_logs() as logs:
        await _offline_session(app, account, settings)
    warnings = [e for e in logs if e["event"] == "throttle.redis_unavailable"]
    assert {e["purpose"] for e in warnings} == {"login", "public_rate_limit"}


async def _offline_session(app, account, settings) -> None:
    async with _started(app), _from(app, "192.0.2.10") as offline:
        ok = await offline.post(LOGIN, json={"email": account.email, "password": account.password})
        assert ok.status_code == 200, ok.text
        me = await offline.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
        )
        assert me.status_code == 200
        # Throttling goes on in the process.
        for _ in range(settings.auth.login_free_failures + 1):
            wrong = await offline.post(LOGIN, json={"email": account.email, "password": "guess"})
            assert wrong.status_code == 401
        slowed = await offline.post(
            LOGIN, json={"email": account.email, "password": account.password}
        )
        assert slowed.status_code == 429
        # The public pages answer, still limited per address.
        statuses = [
            (await offline.get("/api/v1/public/penalties/catalogue")).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]


async def test_unknown_email_costs_as_much_as_a_wrong_password(own_app, make_account) -> None:
    account = await make_account(OrgKind.SUPPLIER)

    async def timed(client: httpx.AsyncClient, email: str) -> float:
        started = time.perf_counter()
        response = await client.post(LOGIN, json={"email": email, "password": "wrong-password"})
        assert response.status_code == 401
        return time.perf_counter() - started

    async with _from(own_app, _address()) as client:
        known = sorted([await timed(client, account.email) for _ in range(3)])[1]
        unknown = sorted(
            [await timed(client, f"nobody-{uuid.uuid4().hex[:8]}@x.example.com") for _ in range(3)]
        )[1]
    # Before, an unknown e-mail answered some twenty times faster.
    assert unknown > known * 0.5, (known, unknown)


async def test_the_public_rate_limit_counts_the_same_client_address(
    settings, database_url, redis_url
) -> None:
    from mall.app import create_app

    proxied = dataclasses.replace(
        settings,
        auth=dataclasses.replace(settings.auth, trusted_proxies="10.201.0.0/16"),
        mall=dataclasses.replace(settings.mall, public_requests_per_minute=2),
    )
    app = create_app(proxied, database_url=database_url, redis_url=redis_url)
    page = "/api/v1/public/penalties/catalogue"
    first, second = f"198.51.100.{uuid.uuid4().int % 200}", "203.0.113.9"
    async with _started(app), _from(app, "10.201.0.1") as proxy, _from(app, _address()) as peer:
        behind = [
            (await proxy.get(page, headers={"X-Forwarded-For": first})).status_code
            for _ in range(3)
        ]
        assert behind == [200, 200, 429]
        assert (await proxy.get(page, headers={"X-Forwarded-For": second})).status_code == 200
        # A client that is not a proxy gains nothing by writing the header.
        spoofed = [
            (await peer.get(page, headers={"X-Forwarded-For": f"192.0.2.{i}"})).status_code
            for i in range(3)
        ]
        assert spoofed == [200, 200, 429]
