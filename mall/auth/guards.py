"""Route guards by organisation kind. Row visibility is enforced in the queries."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from mall.auth.models import OrgKind
from mall.auth.principal import Principal
from mall.errors import ForbiddenError, UnauthenticatedError

_KIND_NAMES = {
    OrgKind.SUPPLIER: "供应商",
    OrgKind.PURCHASER: "采购单位",
    OrgKind.OPERATOR: "运营机构",
    OrgKind.REGULATOR: "监管部门",
}


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise UnauthenticatedError("Sign in first: this endpoint needs a bearer token.")
    return principal


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    current_principal(connection)


def requires(*kinds: OrgKind) -> Guard:
    """Only users of these kinds of organisation."""
    allowed = "、".join(_KIND_NAMES[kind] for kind in kinds)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = current_principal(connection)
        if principal.org_kind not in kinds:
            raise ForbiddenError(
                f"Only {', '.join(kind.value for kind in kinds)} organisations may do this.",
                title=f"仅{allowed}可执行此操作",
            )

    guard.__name__ = f"requires_{'_or_'.join(kind.value for kind in kinds)}"
    return guard


operators_and_regulators = requires(OrgKind.OPERATOR, OrgKind.REGULATOR)
