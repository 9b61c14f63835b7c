"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio
from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from catalog.search import text as search_text
from mall.api.audit import AuditController
from mall.api.auth import ApiTokenController, AuthController
from mall.api.calendar import CalendarController
from mall.api.cases import CaseController
from mall.api.catalog import (
    CategoryController,
    ListingController,
    ListingImportController,
    MediaController,
    ReviewQueueController,
    RulesetController,
)
from mall.api.health import MetricsController, health, ready
from mall.api.notifications import NotificationController
from mall.api.openapi import docs_assets_router, document_routes, openapi_config
from mall.api.orders import (
    OperatorChangeRequestController,
    OrderController,
    OrderStatsController,
)
from mall.api.params import pagination
from mall.api.penalties import CreditScoreController, PenaltyController
from mall.api.pricing import PricingController
from mall.api.public import RATE_LIMIT_STORE, public_router
from mall.api.query_parameters import refuse_unknown_query_parameters
from mall.api.search import SearchController, SynonymController, ThumbnailController
from mall.api.spotchecks import SpotCheckController
from mall.api.stats import StatsController
from mall.api.suppliers import CreditListController, OperatorSupplierController, SupplierController
from mall.api.timestamps import beijing_timestamps
from mall.auth.addresses import parse_networks
from mall.auth.counters import FallbackCounters, FallbackStore
from mall.auth.middleware import BearerAuthMiddleware
from mall.auth.throttle import LoginThrottle
from mall.boundary import InputGuardMiddleware, MallRequest
from mall.db import create_engine, create_session_maker
from mall.jobs.outbox import Relay, install_relay
from mall.jobs.worker import arq_redis_settings
from mall.logging import RequestContextMiddleware, configure_logging
from mall.problems import exception_handlers
from mall.settings import Settings, get_settings

PUBLIC_PATHS = ["^/health$", "^/ready$", "^/schema", "^/metrics$"]


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> Litestar:
    """Build the API. URLs default to DATABASE_URL and REDIS_URL."""
    settings = settings or get_settings()
    database_url = database_url or settings.database.url
    redis_url = redis_url or settings.redis.url
    if not database_url or not redis_url:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL must be set;"
            " `mall serve` starts embedded servers when they are not"
        )
    configure_logging(settings.log)
    engine = create_engine(database_url, settings.database)
    session_maker = create_session_maker(engine)
    # Bounded waits: with Redis unreachable, throttles fall back instead of hanging.
    redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    trusted_proxies = parse_networks(settings.auth.trusted_proxies)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        relay = Relay(
            session_maker,
            arq_redis_settings(redis_url, retries=0),
            settings.redis.queue_name,
            settings.jobs.outbox_batch_size,
        )
        app.state.relay = relay
        install_relay(relay)
        # The segmenter's dictionary, loaded off the event loop before the first search.
        await anyio.to_thread.run_sync(search_text.warm_up)
        try:
            yield
        finally:
            install_relay(None)
            await relay.close()
            await redis.aclose()

    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_dependency_key="db_session",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit",
        create_all=False,
    )
    state = State(
        {
            "settings": settings,
            "engine": engine,
            "session_maker": session_maker,
            "redis": redis,
            "trusted_proxies": trusted_proxies,
            "login_throttle": LoginThrottle(
                counters=FallbackCounters(redis),
                prefix=settings.redis.key_prefix,
                window_seconds=settings.auth.login_window_seconds,
                free_failures=settings.auth.login_free_failures,
                base_delay_seconds=settings.auth.login_base_delay_seconds,
                max_delay_seconds=settings.auth.login_max_delay_seconds,
                max_per_address=settings.auth.login_max_failures_per_address,
            ),
        }
    )
    app = Litestar(
        request_class=MallRequest,
        route_handlers=[
            health,
            docs_assets_router(),
            ready,
            MetricsController,
            AuthController,
            ApiTokenController,
            AuditController,
            NotificationController,
            CalendarController,
            StatsController,
            SupplierController,
            OperatorSupplierController,
            CreditListController,
            CategoryController,
            ListingImportController,
            MediaController,
            ListingController,
            ReviewQueueController,
            RulesetController,
            PricingController,
            SearchController,
            SynonymController,
            ThumbnailController,
            CaseController,
            PenaltyController,
            CreditScoreController,
            SpotCheckController,
            public_router(settings, trusted_proxies),
            OrderController,
            OperatorChangeRequestController,
            OrderStatsController,
        ],
        plugins=[SQLAlchemyPlugin(config=db_config)],
        middleware=[
            InputGuardMiddleware,
            DefineMiddleware(BearerAuthMiddleware, exclude=PUBLIC_PATHS),
        ],
        stores={
            RATE_LIMIT_STORE: FallbackStore(
                RedisStore(redis, namespace=f"{settings.redis.key_prefix}:public_rate_limit")
            )
        },
        exception_handlers=exception_handlers,
        dependencies={"pagination": Provide(pagination, sync_to_thread=False)},
        before_request=refuse_unknown_query_parameters,
        after_request=beijing_timestamps,
        openapi_config=openapi_config(version="0.1.0"),
        request_max_body_size=settings.server.max_json_body_bytes,
        lifespan=[lifespan],
        state=state,
        debug=settings.server.debug,
    )
    document_routes(app)
    # Outside Litestar's own exception handling, so that the access log and the
    # metrics see every answer as sent, unrouted paths and middleware errors too.
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler)
    return app
