"""RFC 9457 problem details for every error the API returns.

One mapping for the whole application: domain errors by kind, Litestar's HTTP
exceptions by status, anything else as a logged 500. Every body has ``type``,
``title`` (Chinese), ``status``, ``detail`` (English), ``code`` (stable, machine
readable), ``instance`` (the path) and ``request_id``; validation failures add
``errors``: one entry per field.
"""

from __future__ import annotations

import errno
import re
import uuid
from typing import Any

import asyncpg
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import SQLAlchemyError

from catalog.errors import CatalogError
from mall import messages_zh
from mall.errors import DomainError, ErrorKind

log = structlog.get_logger("mall.problems")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://emall.example.org/problems/"

KIND_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.THROTTLED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TOO_LARGE: 413,
}

# Status → (code, Chinese title) for errors raised by the framework itself.
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("request.malformed", "请求格式错误"),
    401: ("auth.unauthenticated", "请先登录"),
    403: ("auth.forbidden", "无权执行此操作"),
    404: ("route.not_found", "请求的资源不存在"),
    405: ("route.method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "当前状态不允许此操作"),
    413: ("request.too_large", "请求内容过大"),
    415: ("request.unsupported_media_type", "不支持的内容类型"),
    422: ("request.validation_failed", "请求内容未通过校验"),
    429: ("throttled", "请求过于频繁，请稍后再试"),
    500: ("internal", "服务器内部错误"),
    503: ("unavailable", "服务暂不可用，请稍后再试"),
}

_DEFAULT_DETAIL = {
    401: "Authentication is required: send a valid bearer token.",
    403: "Your organisation's role does not allow this action.",
    404: "No such resource.",
    413: "The request body is larger than allowed.",
}


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": _request_id(request),
    }
    if errors:
        body["errors"] = _both_languages(errors, title)
    # Extra members never replace the standard ones.
    body.update({k: v for k, v in (extra or {}).items() if k not in body})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _request_id(request: Request[Any, Any, Any]) -> str:
    bound = structlog.contextvars.get_contextvars().get("request_id")
    if bound:
        return str(bound)
    # No route matched, so no middleware ran: take the caller's id or make one.
    supplied = request.headers.get("x-request-id", "")
    return supplied if 0 < len(supplied) <= 64 and supplied.isascii() else uuid.uuid4().hex


def domain_error_handler(
    request: Request[Any, Any, Any], exc: DomainError
) -> Response[dict[str, Any]]:
    headers = None
    retry_after = exc.extra.get("retry_after")
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return problem(
        request,
        status=KIND_STATUS[exc.kind],
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=headers,
        extra=exc.extra,
    )


_MISSING_PARAMETER = re.compile(r"Missing required (?P<source>\w+) parameter '(?P<name>[^']+)'")

# msgspec names the missing or unknown field in the message, and the place it
# belongs to in the key ("data" for the body itself).
_NAMED_FIELD = re.compile(
    r"Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`"
    r"(?: - at `\$\.?(?P<path>[^`]*)`)?"
)


def _field_errors(extra: Any) -> list[dict[str, Any]]:
    """Litestar's validation details, one entry per field, named as the caller sent it."""
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        field, message = item.get("key"), str(item.get("message", ""))
        named = _NAMED_FIELD.match(message)
        if named:  # reported on the object that holds it; name the field itself
            base = named["path"] or (field if field not in (None, "", "data") else "")
            field = f"{base}.{named['name']}" if base else named["name"]
        errors.append({"field": field, "source": item.get("source"), "message": message})
    return errors


def _both_languages(errors: list[dict[str, Any]] | None, title: str) -> list[dict[str, Any]]:
    """Every field error carries ``message_zh`` beside ``message``: translated when
    it is one of the validator's messages, else the problem's Chinese title."""
    return [
        error
        if "message_zh" in error
        else {**error, "message_zh": messages_zh.translate(str(error.get("message", ""))) or title}
        for error in errors or []
    ]


def catalog_error_handler(
    request: Request[Any, Any, Any], exc: CatalogError
) -> Response[dict[str, Any]]:
    """The catalogue's errors carry the same fields as domain errors."""
    return problem(
        request,
        status=KIND_STATUS[ErrorKind(exc.kind)],
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        extra=exc.extra,
    )


def http_exception_handler(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra)
        if errors:  # the body parsed but broke the schema
            code, title = HTTP_PROBLEMS[422]
            return problem(
                request,
                status=422,
                code=code,
                title=title,
                detail="The request does not match the schema; see errors.",
                errors=errors,
            )
        missing = _MISSING_PARAMETER.match(str(exc.detail))
        if missing:  # a required parameter is absent: a schema violation too
            code, title = HTTP_PROBLEMS[422]
            return problem(
                request,
                status=422,
                code=code,
                title=title,
                detail=f"The {missing['source']} parameter {missing['name']!r} is required.",
                errors=[
                    {"field": missing["name"], "source": missing["source"], "message": "required"}
                ],
            )
        code, title = HTTP_PROBLEMS[400]
        return problem(request, status=400, code=code, title=title, detail=str(exc.detail))
    code, title = getattr(exc, "problem", None) or HTTP_PROBLEMS.get(
        status, (f"http.{status}", "请求失败")
    )
    detail = str(exc.detail) if exc.detail and exc.detail != _phrase(status) else ""
    headers = {k: v for k, v in (exc.headers or {}).items()} or None
    return problem(
        request,
        status=status,
        code=code,
        title=title,
        detail=detail or _DEFAULT_DETAIL.get(status, _phrase(status)),
        headers=headers,
    )


def internal_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    log.exception("request.unhandled_error", path=request.url.path)
    code, title = HTTP_PROBLEMS[500]
    return problem(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        code=code,
        title=title,
        detail="An unexpected error occurred; it has been logged with the request id.",
    )


# How long a client should wait before retrying while the database is away.
DATABASE_RETRY_AFTER_SECONDS = 5

# SQLSTATE classes and codes (PostgreSQL, appendix A) that mean the database
# cannot serve now rather than that the request was wrong.
_UNAVAILABLE_CLASSES = ("08", "53", "57")  # connection, resources, operator intervention
_UNAVAILABLE_CODES = ("55000", "40001", "40P01")  # not accepting connections; retryable
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
}


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (SQLAlchemy wraps the driver's error twice)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return seen


def _sqlstate(chain: list[BaseException]) -> str | None:
    for item in chain:
        code = getattr(item, "sqlstate", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def _is_connection_failure(chain: list[BaseException], sqlstate: str | None) -> bool:
    if sqlstate is not None:
        return sqlstate[:2] in _UNAVAILABLE_CLASSES or sqlstate in _UNAVAILABLE_CODES
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return any(
        isinstance(item, ConnectionError | TimeoutError | PoolTimeout | asyncpg.InterfaceError)
        or (isinstance(item, OSError) and item.errno in _NETWORK_ERRNOS)
        or (isinstance(item, OSError) and str(item).startswith("Multiple exceptions"))
        or (isinstance(item, DBAPIError) and item.connection_invalidated)
        for item in chain
    )


def database_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """Errors from PostgreSQL or the way to it, by what they mean for the caller.

    The database unreachable, full or shutting down is 503 with ``Retry-After``;
    a value it refused (SQLSTATE class 22) is 422; a constraint it enforced
    (class 23) is 409 for a duplicate and 422 otherwise. Each is logged as a
    warning: validation should have caught a refused value first. Anything
    else is a 500."""
    chain = _chain(exc)
    sqlstate = _sqlstate(chain)
    constraint = next((c for c in (getattr(i, "constraint_name", None) for i in chain) if c), None)
    if _is_connection_failure(chain, sqlstate):
        log.warning(
            "database.unavailable",
            path=request.url.path,
            sqlstate=sqlstate,
            error=type(chain[-1]).__name__,
            message=str(chain[-1])[:200],
        )
        return problem(
            request,
            status=503,
            code="service_unavailable",
            title="服务暂不可用，请稍后再试",
            detail="The database is unavailable at the moment; retry later.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if sqlstate is None or sqlstate[:2] not in ("22", "23"):
        return internal_error_handler(request, exc)
    log.warning(
        "database.refused_request",
        path=request.url.path,
        sqlstate=sqlstate,
        constraint=constraint,
        error=str(chain[-1]).splitlines()[0][:200],
    )
    if sqlstate in ("23505", "23P01"):  # unique or exclusion: the thing exists already
        return problem(
            request,
            status=409,
            code="conflict.duplicate",
            title="该记录已存在",
            detail="A record with these values exists already.",
        )
    if sqlstate[:2] == "23":
        return problem(
            request,
            status=422,
            code="request.constraint_violated",
            title="请求内容违反数据约束",
            detail="The request breaks a rule the stored data must keep.",
        )
    return problem(
        request,
        status=422,
        code="request.value_rejected",
        title="请求中的值无法存储",
        detail="A value in the request is out of range or not valid for its field.",
    )


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


exception_handlers: dict[type[Exception] | int, Any] = {
    SQLAlchemyError: database_error_handler,
    asyncpg.PostgresError: database_error_handler,
    asyncpg.InterfaceError: database_error_handler,
    OSError: database_error_handler,
    DomainError: domain_error_handler,
    CatalogError: catalog_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}
