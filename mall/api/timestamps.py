"""One timestamp form in every JSON answer: Beijing time, ``+08:00``.

Rows come back from PostgreSQL in UTC while deadlines are computed in
Asia/Shanghai, so without this a POST and the GET that follows it would write
the same moment in two forms. China keeps no daylight saving time, so a fixed
offset is exact. The hook runs after every handler, whatever it returns.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Response
from litestar.serialization import default_serializer

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def in_beijing_time(value: Any) -> Any:
    """``value`` with every datetime in it moved to ``+08:00`` (naive ones are taken as UTC)."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(BEIJING)
    if isinstance(value, dict):
        return {k: in_beijing_time(v) for k, v in value.items()}
    if isinstance(value, list):
        return [in_beijing_time(v) for v in value]
    return value


async def beijing_timestamps(response: Response[Any]) -> Response[Any]:
    """App-level ``after_request`` hook: JSON content is written with Beijing-time timestamps."""
    if not isinstance(response, Response):  # files and other ASGI answers
        return response
    content = response.content
    media_type = getattr(response.media_type, "value", response.media_type)
    if "json" not in str(media_type) or content is None:
        return response
    if isinstance(content, bytes | bytearray | memoryview | str):
        return response
    builtins = msgspec.to_builtins(
        content, builtin_types=(dt.datetime,), enc_hook=default_serializer
    )
    response.content = in_beijing_time(builtins)
    return response
