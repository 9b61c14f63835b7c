"""Domain errors: raised by services, turned into problem details in one place.

Each error carries a stable machine ``code``, a Chinese ``title`` for the
person reading it and an English ``detail``. Services never speak HTTP; the
``kind`` says what sort of failure it is and ``mall.problems`` maps kinds to
status codes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request is well-formed but breaks a rule → 422
    NOT_FOUND = "not_found"  # absent, or not visible to the caller → 404
    CONFLICT = "conflict"  # the current state forbids it → 409
    FORBIDDEN = "forbidden"  # the caller may not do this → 403
    UNAUTHENTICATED = "unauthenticated"  # → 401
    THROTTLED = "throttled"  # → 429
    UNAVAILABLE = "unavailable"  # a dependency is down → 503
    TOO_LARGE = "too_large"  # more than the operation accepts at once → 413


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    kind: ErrorKind = ErrorKind.INVALID
    code: str = "invalid"
    title: str = "请求无效"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.errors = errors or []
        self.extra = extra


class InvalidError(DomainError):
    kind = ErrorKind.INVALID


class NotFoundError(DomainError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"
    title = "未找到该资源"


class ConflictError(DomainError):
    kind = ErrorKind.CONFLICT
    code = "conflict"
    title = "当前状态不允许此操作"


class ForbiddenError(DomainError):
    kind = ErrorKind.FORBIDDEN
    code = "auth.forbidden"
    title = "无权执行此操作"


class UnauthenticatedError(DomainError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "auth.unauthenticated"
    title = "请先登录"


class ThrottledError(DomainError):
    kind = ErrorKind.THROTTLED
    code = "throttled"
    title = "请求过于频繁，请稍后再试"

    def __init__(self, detail: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **kwargs)
        self.retry_after = retry_after


class UnavailableError(DomainError):
    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"
    title = "服务暂不可用，请稍后再试"


class TooLargeError(DomainError):
    kind = ErrorKind.TOO_LARGE
    code = "too_large"
    title = "请求内容过大"
