"""Errors the catalogue raises. ``mall`` maps them to problem details by
``kind`` (invalid → 422, not_found → 404, conflict → 409, forbidden → 403)."""

from __future__ import annotations

from typing import Any


class CatalogError(Exception):
    kind = "invalid"
    code = "catalog.invalid"
    title = "商品信息有误"

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
        self.code = code or self.code
        self.title = title or self.title
        self.errors = errors or []
        self.extra = extra


class CatalogInvalid(CatalogError):
    kind = "invalid"


class CatalogNotFound(CatalogError):
    kind = "not_found"
    code = "catalog.not_found"
    title = "未找到该商品或品目"


class CatalogConflict(CatalogError):
    kind = "conflict"
    code = "catalog.conflict"
    title = "当前状态不允许此操作"
