"""What every request must satisfy before a handler sees it.

Checked once here for every operation, not field by field:

- a JSON body is sent as JSON (``application/json`` or ``…+json``), else 415;
- it nests at most ``MAX_JSON_DEPTH`` arrays and objects, else 400 (the
  decoder's own recursion limit is far deeper and ends in a RecursionError);
- no string in it, key or value, holds a NUL character (PostgreSQL text cannot
  store one), else 422 naming the field; the same for query and path values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.serialization import decode_json
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.types.empty import Empty

from mall.errors import InvalidError

MAX_JSON_DEPTH = 32
NUL = "\x00"


class UnsupportedMediaType(HTTPException):
    status_code = 415


class TooDeeplyNested(HTTPException):
    status_code = 400
    # (code, Chinese title) of the problem, for mall.problems.
    problem = ("request.nesting_too_deep", "请求内容嵌套层级过深")


def nul_in_field(field: str, source: str) -> InvalidError:
    """The 422 for a NUL character in a value the caller sent."""
    return InvalidError(
        f"{field} contains a NUL character (U+0000), which no text field accepts.",
        code="request.nul_character",
        title="请求内容含有空字符（U+0000）",
        errors=[
            {
                "field": field,
                "source": source,
                "message": "must not contain the NUL character (U+0000)",
                "message_zh": "不得包含空字符（U+0000）",
            }
        ],
    )


def is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def check_json_value(value: Any) -> None:
    """Refuse a decoded JSON document nested too deeply or holding a NUL character.

    Walks the document without recursion; a field is named as msgspec names it
    (``lines[0].title``)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                raise nul_in_field(path or "body", "body")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise TooDeeplyNested(
                    detail=f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep."
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    child_path = f"{path}.{key}" if path else str(key)
                    if NUL in key:
                        raise nul_in_field(child_path, "body")
                    stack.append((child, child_path, depth + 1))
            else:
                stack.extend(
                    (child, f"{path}[{index}]", depth + 1) for index, child in enumerate(item)
                )


class MallRequest(Request[Any, Any, Any]):
    """Litestar's request, with the checks above on the JSON body it decodes."""

    async def json(self) -> Any:
        """The decoded JSON body, once checked (see the module's docstring)."""
        if self._json is not Empty:
            return self._json
        if self._connection_state.json is not Empty:
            self._json = self._connection_state.json
            return self._json
        body = await self.body()
        if body:
            media_type, _ = self.content_type
            if not is_json_media_type(media_type):
                raise UnsupportedMediaType(
                    detail=(
                        f"This operation reads a JSON body; send it as application/json"
                        f" (got {media_type or 'no content type'!r})."
                    )
                )
        try:
            value = decode_json(
                body or b"null", type_decoders=self.route_handler.resolve_type_decoders()
            )
        except RecursionError:
            raise TooDeeplyNested(
                detail=f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep."
            ) from None
        check_json_value(value)
        self._json = self._connection_state.json = value
        return value


class InputGuardMiddleware:
    """Refuses a NUL character in the query string or a path parameter (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            query = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query:
                pairs = parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)
                for name, value in pairs:
                    if NUL in name or NUL in value:
                        raise nul_in_field(name.replace(NUL, "\\u0000"), "query")
            for name, value in (scope.get("path_params") or {}).items():
                if isinstance(value, str) and NUL in value:
                    raise nul_in_field(name, "path")
        await self.app(scope, receive, send)
