"""What a supplier not in good standing may no longer do.

A suspended (or expelled, withdrawn, not yet verified) supplier may still sign
in and read, to see why and to object, but may not publish, edit, submit or
import listings, nor create API tokens. Its standing is read from the
database at the moment of the action, so a suspension takes effect at once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mall.auth.models import Organisation, OrgKind, OrgStatus
from mall.auth.principal import Principal
from mall.errors import ForbiddenError

_STATUS_ZH = {
    OrgStatus.PENDING.value: "待审核",
    OrgStatus.SUSPENDED.value: "暂停交易",
    OrgStatus.EXPELLED.value: "已清退",
    OrgStatus.WITHDRAWN.value: "已退出",
    OrgStatus.REJECTED.value: "申请未通过",
}


async def require_active_supplier(session: AsyncSession, principal: Principal) -> None:
    """Raise 403 ``supplier.not_active`` when the caller is a supplier not active now."""
    if principal.org_kind is not OrgKind.SUPPLIER:
        return
    status = await session.scalar(
        select(Organisation.status).where(Organisation.id == principal.org_id)
    )
    if status == OrgStatus.ACTIVE.value:
        return
    raise ForbiddenError(
        f"The supplier is {status}: it may read and object, not publish, submit,"
        " import or create API tokens.",
        code="supplier.not_active",
        title=(
            f"供应商当前状态为「{_STATUS_ZH.get(str(status), '非正常')}」，"
            "不能发布、提交商品或创建令牌"
        ),
        status=status,
    )
