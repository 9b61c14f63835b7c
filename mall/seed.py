"""Demo data for `make run` and `mall seed-demo`; running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.categories import seed_demo_categories
from mall.auth.accounts import create_user
from mall.auth.models import Organisation, OrgKind, User
from mall.settings import get_settings


@dataclass(frozen=True)
class DemoAccount:
    kind: OrgKind
    org: str
    email: str
    password: str
    business_type: str | None = None
    region_code: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount(
        OrgKind.OPERATOR, "包头市公共资源交易中心", "operator@emall.example.com", "Operator#2026"
    ),
    DemoAccount(OrgKind.REGULATOR, "包头市财政局", "regulator@emall.example.com", "Regulator#2026"),
    DemoAccount(OrgKind.PURCHASER, "包头市第九中学", "buyer@emall.example.com", "Buyer#2026"),
    DemoAccount(
        OrgKind.SUPPLIER,
        "内蒙古诚信办公设备有限公司",
        "supplier@emall.example.com",
        "Supplier#2026",
        business_type="enterprise",
        region_code="150203",
    ),
    DemoAccount(
        OrgKind.SUPPLIER,
        "包头市昆区鑫达电脑经营部",
        "supplier2@emall.example.com",
        "Supplier#2026",
        business_type="individual_business",
        region_code="150203",
    ),
)


async def seed_demo(session: AsyncSession) -> list[str]:
    """Create the demo accounts and categories that are missing; returns the e-mails created."""
    created = []
    for account in DEMO_ACCOUNTS:
        exists = await session.scalar(select(User.id).where(User.email == account.email))
        if exists is None:
            user = await create_user(
                session,
                kind=account.kind,
                org_name=account.org,
                email=account.email,
                password=account.password,
            )
            if account.business_type:
                org = await session.get_one(Organisation, user.org_id)
                org.business_type = account.business_type
                org.region_code = account.region_code
                prefix = get_settings().mall.region_prefix
                org.in_region = bool(account.region_code and account.region_code.startswith(prefix))
            created.append(account.email)
    await seed_demo_categories(session)
    return created
