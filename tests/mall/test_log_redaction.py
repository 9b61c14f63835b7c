"""Anonymous reporters' tracking codes never reach the logs."""

from __future__ import annotations

import logging

import structlog
from structlog.testing import LogCapture

from mall.logging import RequestContextMiddleware, redact_event

CODE = "7K3M-Q9XA-H2PD-4WZR"


async def _not_found(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _call(app, path: str) -> None:
    scope = {"type": "http", "method": "GET", "path": path, "headers": []}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message) -> None:
        return None

    await app(scope, receive, send)


async def test_the_access_line_names_the_route_not_the_code() -> None:
    saved = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[redact_event, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )
    try:
        middleware = RequestContextMiddleware(_not_found)
        for suffix in ("", "/messages", "/attachments"):
            await _call(middleware, f"/api/v1/public/cases/{CODE}{suffix}")
        await _call(middleware, f"/api/v1/public/cases/{CODE.lower().replace('-', '')}")
    finally:
        structlog.configure(**saved)
    lines = [e for e in capture.entries if e["event"] == "request"]
    assert [e["path"] for e in lines] == [
        "/api/v1/public/cases/{tracking_code}",
        "/api/v1/public/cases/{tracking_code}/messages",
        "/api/v1/public/cases/{tracking_code}/attachments",
        "/api/v1/public/cases/{tracking_code}",
    ]
    assert CODE not in repr(capture.entries)


def test_every_event_field_is_redacted() -> None:
    event = {
        "event": "request.unhandled_error",
        "path": f"/api/v1/public/cases/{CODE}/withdraw",
        "exception": f"Traceback ... GET http://mall/api/v1/public/cases/{CODE} failed",
        "status": 500,
    }
    redacted = redact_event(None, "error", dict(event))
    assert CODE not in repr(redacted)
    assert redacted["status"] == 500
    assert redacted["path"] == "/api/v1/public/cases/{tracking_code}/withdraw"
    untouched = {"event": "request", "path": "/api/v1/cases/0190-abc"}
    assert redact_event(None, "info", dict(untouched)) == untouched
