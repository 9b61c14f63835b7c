"""Structured JSON logs, with the request id bound to every line of a request."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from mall.settings import LogSettings

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._\-]{1,64}$")
# An anonymous reporter's tracking code is the key to the report: it never
# reaches a log line, in a path or anywhere else in an event.
_TRACKING_CODE_PATH = re.compile(r"(/public/cases/)[^/?#\s]+")
TRACKING_CODE_PLACEHOLDER = "{tracking_code}"


def redact(text: str) -> str:
    """The text with every tracking code in a public case path replaced."""
    if "/public/cases/" not in text:
        return text
    return _TRACKING_CODE_PATH.sub(rf"\g<1>{TRACKING_CODE_PLACEHOLDER}", text)


def redact_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: ``redact`` on every text value of the event."""
    for key, value in event.items():
        if isinstance(value, str) and "/public/cases/" in value:
            event[key] = redact(value)
    return event


def configure_logging(settings: LogSettings) -> None:
    """JSON lines on stderr (or readable console lines when MALL_LOG_JSON=false)."""
    level = getattr(logging, settings.level, logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, format="%(message)s")


_REQUEST_LABELS = ["method", "path", "status_code", "app_name"]
REQUESTS = Counter("mall_requests", "Requests answered, by the status sent", _REQUEST_LABELS)
REQUEST_ERRORS = Counter(
    "mall_requests_error", "Requests answered with a 5xx status", _REQUEST_LABELS
)
REQUEST_TIME = Histogram(
    "mall_request_duration_seconds", "Time to answer a request", _REQUEST_LABELS
)
IN_PROGRESS = Gauge("mall_requests_in_progress", "Requests being answered", ["method", "app_name"])
# Requests that matched no route share one label value, so that probing
# paths cannot make the metrics grow without end.
UNROUTED = "<unrouted>"


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` when valid), binds
    it to the logs, returns it in the response, logs one access line and counts
    the request in the metrics.

    It wraps the whole application, outside Litestar's exception handling (see
    ``mall.app``), so the status logged and counted is the one the client got:
    a 401 from the authentication middleware, a 429 from the rate limiter and a
    404 or 405 for a path no route serves included."""

    def __init__(self, app: ASGIApp, app_name: str = "mall") -> None:
        self.app = app
        self.app_name = app_name
        self.log = structlog.get_logger("mall.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = supplied.decode() if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        method = str(scope.get("method", ""))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}  # type: ignore[typeddict-item]
            await send(message)

        in_progress = IN_PROGRESS.labels(method, self.app_name)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            in_progress.dec()
            elapsed = time.perf_counter() - started
            labels = (method, scope.get("path_template") or UNROUTED, str(status), self.app_name)
            REQUESTS.labels(*labels).inc()
            REQUEST_TIME.labels(*labels).observe(elapsed)
            if status >= 500:
                REQUEST_ERRORS.labels(*labels).inc()
            self.log.info(
                "request",
                method=method,
                path=redact(str(scope.get("path", ""))),
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
