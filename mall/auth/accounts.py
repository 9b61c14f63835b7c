"""Creating organisations and users outside the online registration path:
operators' and regulators' staff, purchasing units, and suppliers migrated
from an older system (recorded as verified offline)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind, OrgStatus, User, supplier_category
from mall.auth.passwords import hash_password, password_problem
from mall.auth.service import normalise_email
from mall.calendar.core import SHANGHAI
from mall.errors import ConflictError, InvalidError


async def get_or_create_organisation(
    session: AsyncSession,
    *,
    kind: OrgKind,
    name: str,
    categories: Sequence[str] | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> tuple[Organisation, bool]:
    """The active organisation of this kind and name, created if missing."""
    name = name.strip()
    if not name:
        raise InvalidError(
            "The organisation name is empty.", code="org.name_required", title="机构名称不能为空"
        )
    org = (
        await session.execute(
            select(Organisation).where(Organisation.kind == kind.value, Organisation.name == name)
        )
    ).scalar_one_or_none()
    if org is not None:
        return org, False
    now = dt.datetime.now(dt.UTC)
    org = Organisation(kind=kind.value, name=name, status=OrgStatus.ACTIVE.value)
    if kind is OrgKind.SUPPLIER:
        # Migrated suppliers: verified offline; their documents count for this year.
        org.verified_at = now
        org.verification_channel = "offline"
        org.qualified_until = dt.date(now.astimezone(SHANGHAI).year, 12, 31)
        org.all_categories = not categories
    session.add(org)
    await session.flush()
    if kind is OrgKind.SUPPLIER and categories:
        await session.execute(
            insert(supplier_category),
            [{"org_id": org.id, "category_code": code} for code in sorted(set(categories))],
        )
    await audit.record(
        session,
        actor=actor,
        action="organisation.created",
        subject_type="organisation",
        subject_id=org.id,
        after={
            "kind": org.kind,
            "name": org.name,
            "status": org.status,
            "verification_channel": org.verification_channel,
            "categories": "all" if org.all_categories else sorted(set(categories or [])),
        },
    )
    return org, True


async def create_user(
    session: AsyncSession,
    *,
    kind: OrgKind,
    org_name: str,
    email: str,
    password: str,
    categories: Sequence[str] | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> User:
    """A new active user in the named organisation (created when needed)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise InvalidError(
            "Not an e-mail address.", code="user.email_invalid", title="邮箱地址无效"
        )
    problem = password_problem(password, email)
    if problem is not None:
        raise InvalidError(
            problem.message,
            code=problem.code,
            title=problem.message_zh,
            errors=[problem.as_field_error("password")],
        )
    exists = (
        await session.execute(select(User.id).where(User.email == email))
    ).scalar_one_or_none()
    if exists is not None:
        raise ConflictError(
            f"A user with e-mail {email} exists.", code="user.email_taken", title="该邮箱已被注册"
        )
    org, _ = await get_or_create_organisation(
        session, kind=kind, name=org_name, categories=categories, actor=actor
    )
    if org.kind != kind.value:
        raise ConflictError(
            "Organisation kind mismatch.", code="org.kind_mismatch", title="机构类型不符"
        )
    user = User(org_id=org.id, email=email, password_hash=hash_password(password), is_active=True)
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="user.created",
        subject_type="user",
        subject_id=user.id,
        after={"email": email, "org_id": org.id, "org_kind": org.kind},
    )
    return user
