"""Registration, verification and standing of suppliers.

A supplier registers without an account, free of charge, by signing the
commitment letter; its credit code is checked against the dishonesty lists
at once; an operator verifies the application within 2 working days (the
clock stops while the mall waits for more information from the supplier).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind, OrgStatus, User, supplier_category
from mall.auth.passwords import hash_password, password_problem
from mall.auth.principal import Principal
from mall.calendar.core import SHANGHAI, WorkCalendar
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.notifications.service import notify
from mall.settings import Settings
from mall.sla import service as sla
from mall.sla.models import SlaClock
from mall.suppliers import commitment
from mall.suppliers.models import CommitmentAcceptance, CreditListEntry, SupplierApplication
from mall.suppliers.uscc import normalise_uscc, uscc_problem

SUBJECT = "supplier_application"
CLOCK = "supplier_verification"
# A credit code whose organisation ended up here may apply again (an expelled one
# once its ban has ended); the organisation is reused, with its history.
REAPPLY_STATUSES = (
    OrgStatus.REJECTED.value,
    OrgStatus.WITHDRAWN.value,
    OrgStatus.EXPELLED.value,
)
REJECTION_CODES = {
    "INCOMPLETE_INFORMATION": "材料不完整",
    "FALSE_INFORMATION": "材料不实",
    "CREDIT_LIST": "列入失信名单",
    "NOT_QUALIFIED": "不符合入驻条件",
    "CATEGORY_NOT_OFFERED": "申请品目不在卖场范围",
    "OTHER": "其他",
}
REJECTION_CODES_EN = {
    "INCOMPLETE_INFORMATION": "incomplete information",
    "FALSE_INFORMATION": "false information",
    "CREDIT_LIST": "on a list of dishonest parties",
    "NOT_QUALIFIED": "does not meet the conditions to join",
    "CATEGORY_NOT_OFFERED": "categories applied for are not offered by the mall",
    "OTHER": "other",
}
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_CATEGORY = re.compile(r"^[ABC]\d{0,12}$")
_REGION = re.compile(r"^\d{6}$")


@dataclass(frozen=True, slots=True)
class Registration:
    company_name: str
    uscc: str
    region_code: str
    business_type: str
    legal_representative: str
    contact_name: str
    contact_mobile: str
    categories: list[str]
    admin_email: str
    admin_password: str
    commitment_accepted: bool
    commitment_version: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _field(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _validate(data: Registration) -> list[dict[str, str]]:
    errors = []
    problem = uscc_problem(normalise_uscc(data.uscc))
    if problem:
        errors.append(_field("uscc", problem))
    if not _REGION.match(data.region_code):
        errors.append(_field("region_code", "must be the 6-digit administrative division code"))
    if not _MOBILE.match(data.contact_mobile):
        errors.append(_field("contact_mobile", "must be an 11-digit mainland mobile number"))
    if not data.categories:
        errors.append(_field("categories", "apply for at least one category"))
    for index, code in enumerate(data.categories):
        if not _CATEGORY.match(code):
            errors.append(
                _field(f"categories[{index}]", "not a procurement catalogue code (e.g. A02010104)")
            )
    password = password_problem(data.admin_password, data.admin_email)
    if password is not None:
        errors.append(password.as_field_error("admin_password"))
    if not data.commitment_accepted:
        errors.append(_field("commitment_accepted", "the commitment letter must be accepted"))
    if data.commitment_version != commitment.CURRENT_VERSION:
        errors.append(
            _field(
                "commitment_version", f"the current letter is version {commitment.CURRENT_VERSION}"
            )
        )
    return errors


async def live_credit_entries(
    session: AsyncSession, uscc: str, today: dt.date
) -> Sequence[CreditListEntry]:
    """Entries for this code that are in force today."""
    return (
        await session.scalars(
            select(CreditListEntry)
            .where(
                CreditListEntry.uscc == uscc,
                CreditListEntry.listed_on <= today,
                or_(CreditListEntry.expires_on.is_(None), CreditListEntry.expires_on >= today),
            )
            .order_by(CreditListEntry.listed_on)
        )
    ).all()


def _entry_summary(entry: CreditListEntry) -> dict[str, Any]:
    return {
        "entry_id": str(entry.id),
        "list_type": entry.list_type,
        "name": entry.name,
        "source": entry.source,
        "listed_on": entry.listed_on.isoformat(),
        "expires_on": entry.expires_on.isoformat() if entry.expires_on else None,
    }


async def register(
    session: AsyncSession,
    calendar: WorkCalendar,
    settings: Settings,
    data: Registration,
    *,
    client_address: str,
) -> tuple[SupplierApplication, SlaClock]:
    """Create the organisation, its admin user and the application, in one transaction."""
    errors = _validate(data)
    if errors:
        raise InvalidError(
            "The application is not valid; see errors.",
            code="supplier.application_invalid",
            title="入驻申请信息有误",
            errors=errors,
        )
    uscc = normalise_uscc(data.uscc)
    email = data.admin_email.strip().lower()
    now = _now()
    existing = (
        await session.scalars(select(Organisation).where(Organisation.uscc == uscc))
    ).one_or_none()
    if existing is not None:
        if existing.status == OrgStatus.EXPELLED.value and (
            existing.status_until is None or existing.status_until > now
        ):
            raise ConflictError(
                "This credit code was expelled from the mall and is banned from registering.",
                code="supplier.banned",
                title="该统一社会信用代码处于禁入期，不能入驻",
                errors=[_field("uscc", "banned")],
                banned_until=existing.status_until,
            )
        if existing.kind != OrgKind.SUPPLIER.value or existing.status not in REAPPLY_STATUSES:
            raise ConflictError(
                "An organisation with this credit code is registered already.",
                code="supplier.uscc_taken",
                title="该统一社会信用代码已注册",
                errors=[_field("uscc", "already registered")],
            )
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError(
            "This e-mail is registered already.",
            code="user.email_taken",
            title="该邮箱已被注册",
            errors=[_field("admin_email", "already registered")],
        )
    if (
        await session.scalar(
            select(Organisation.id).where(
                Organisation.kind == "supplier",
                Organisation.name == data.company_name.strip(),
                Organisation.uscc != uscc,
            )
        )
        is not None
    ):
        raise ConflictError(
            "A supplier with this name is registered already.",
            code="supplier.name_taken",
            title="该供应商名称已注册",
            errors=[_field("company_name", "already registered")],
        )
    in_region = data.region_code.startswith(settings.mall.region_prefix)
    previous_status = existing.status if existing is not None else None
    if existing is not None:
        # Applying again (after a rejection, a withdrawal or a ban that ended):
        # the same organisation, so its history and credit record stay with it.
        org = existing
        org.status, org.status_until, org.status_reason = OrgStatus.PENDING.value, None, None
        org.name, org.region_code, org.business_type = (
            data.company_name.strip(),
            data.region_code,
            data.business_type,
        )
        org.in_region, org.verification_channel, org.verified_at = in_region, "online", None
        org.all_categories = False
        await session.execute(delete(supplier_category).where(supplier_category.c.org_id == org.id))
    else:
        org = Organisation(
            kind=OrgKind.SUPPLIER.value,
            name=data.company_name.strip(),
            status=OrgStatus.PENDING.value,
            uscc=uscc,
            region_code=data.region_code,
            business_type=data.business_type,
            in_region=in_region,
            verification_channel="online",
        )
        session.add(org)
    await session.flush()
    user = User(
        org_id=org.id,
        email=email,
        password_hash=hash_password(data.admin_password),
        display_name=data.contact_name,
    )
    session.add(user)
    application = SupplierApplication(
        org_id=org.id,
        status="submitted",
        company_name=org.name,
        uscc=uscc,
        region_code=data.region_code,
        in_region=in_region,
        business_type=data.business_type,
        legal_representative=data.legal_representative.strip(),
        contact_name=data.contact_name.strip(),
        contact_mobile=data.contact_mobile,
        categories=sorted(set(data.categories)),
        submitted_at=now,
    )
    session.add(application)
    await session.flush()
    session.add(
        CommitmentAcceptance(
            application_id=application.id,
            org_id=org.id,
            user_id=user.id,
            version=data.commitment_version,
            text_sha256=commitment.text_sha256(data.commitment_version),
            signer_name=data.legal_representative.strip(),
            accepted_at=now,
            client_address=client_address,
        )
    )
    clock = await sla.start(
        session,
        calendar,
        settings.sla,
        subject_type=SUBJECT,
        subject_id=application.id,
        kind=CLOCK,
        responsible_org_id=None,
        started_at=now,
    )
    actor = audit.Actor(kind="user", user_id=user.id, org_id=org.id)
    await audit.record(
        session,
        actor=actor,
        action="supplier_application.submitted",
        subject_type=SUBJECT,
        subject_id=application.id,
        after={
            "org_id": org.id,
            "company_name": org.name,
            "uscc": uscc,
            "applying_again_after": previous_status,
            "region_code": data.region_code,
            "in_region": in_region,
            "business_type": data.business_type,
            "categories": application.categories,
            "commitment_version": data.commitment_version,
            "due_at": clock.due_at,
        },
    )
    hits = await live_credit_entries(session, uscc, now.astimezone(SHANGHAI).date())
    if hits:
        await _reject(
            session,
            application,
            org,
            audit.SYSTEM,
            codes=["CREDIT_LIST"],
            reason=f"列入{hits[0].list_type}名单（{hits[0].source}，{hits[0].listed_on}）",
            credit_hit=_entry_summary(hits[0]),
            at=now,
        )
    else:
        await _notify_operators(
            session,
            kind="supplier_application.submitted",
            title_zh=f"新的供应商入驻申请：{org.name}",
            title_en=f"New supplier application: {org.name}",
            subject=(SUBJECT, application.id),
        )
    return application, clock


async def _notify_operators(
    session: AsyncSession, *, kind: str, title_zh: str, title_en: str, subject: tuple[str, object]
) -> None:
    for org_id in (
        await session.scalars(
            select(Organisation.id).where(Organisation.kind == OrgKind.OPERATOR.value)
        )
    ).all():
        await notify(
            session, org_id=org_id, kind=kind, title_zh=title_zh, title_en=title_en, subject=subject
        )


async def _reject(
    session: AsyncSession,
    application: SupplierApplication,
    org: Organisation,
    actor: audit.Actor,
    *,
    codes: list[str],
    reason: str,
    at: dt.datetime,
    credit_hit: dict[str, Any] | None = None,
) -> None:
    application.status = "rejected"
    application.decided_at = at
    application.decided_by = actor.user_id
    application.rejection_codes = codes
    application.rejection_reason = reason
    application.credit_hit = credit_hit
    org.status = OrgStatus.REJECTED.value
    org.status_reason = reason
    await sla.meet(session, subject_type=SUBJECT, subject_id=application.id, kind=CLOCK, at=at)
    await audit.record(
        session,
        actor=actor,
        action="supplier_application.rejected",
        subject_type=SUBJECT,
        subject_id=application.id,
        before={"status": "submitted"},
        after={"status": "rejected", "codes": codes, "credit_hit": credit_hit},
        note=reason,
    )
    await notify(
        session,
        org_id=org.id,
        kind="supplier_application.rejected",
        title_zh="您的入驻申请未通过审核",
        title_en="Your application was rejected",
        body_zh="；".join([*(REJECTION_CODES.get(c, c) for c in codes), reason]),
        body_en="; ".join([*(REJECTION_CODES_EN.get(c, c) for c in codes), reason]),
        subject=(SUBJECT, application.id),
    )


async def own_application(session: AsyncSession, principal: Principal) -> SupplierApplication:
    application = (
        await session.scalars(
            select(SupplierApplication)
            .where(SupplierApplication.org_id == principal.org_id)
            .order_by(SupplierApplication.submitted_at.desc())
            .limit(1)
        )
    ).one_or_none()
    if application is None:
        raise NotFoundError(
            "Your organisation has no application.",
            code="supplier.application_not_found",
            title="未找到入驻申请",
        )
    return application


async def get_application(
    session: AsyncSession, application_id: uuid.UUID, *, for_update: bool = False
) -> SupplierApplication:
    query = select(SupplierApplication).where(SupplierApplication.id == application_id)
    if for_update:
        query = query.with_for_update()
    application = (await session.scalars(query)).one_or_none()
    if application is None:
        raise NotFoundError(
            "No such application.", code="supplier.application_not_found", title="未找到入驻申请"
        )
    return application


async def clock_of(session: AsyncSession, application_id: uuid.UUID) -> SlaClock | None:
    return (
        await session.scalars(
            select(SlaClock).where(
                SlaClock.subject_type == SUBJECT,
                SlaClock.subject_id == str(application_id),
                SlaClock.kind == CLOCK,
            )
        )
    ).one_or_none()


async def queue(
    session: AsyncSession, status: str | None, limit: int = 100, offset: int = 0
) -> Sequence[tuple[SupplierApplication, SlaClock]]:
    """Applications for operators, the soonest due first."""
    return await sla.due_first(
        session,
        SupplierApplication,
        subject_type=SUBJECT,
        kind=CLOCK,
        status=status,
        limit=limit,
        offset=offset,
    )


def _require_status(application: SupplierApplication, *allowed: str) -> None:
    if application.status not in allowed:
        raise ConflictError(
            f"The application is {application.status}; this needs it to be {' or '.join(allowed)}.",
            code="supplier.application_state",
            title="申请当前状态不允许此操作",
            current_status=application.status,
            allowed=list(allowed),
        )


async def approve(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    categories: list[str] | None,
) -> SupplierApplication:
    """Activate the supplier for the categories applied for (or fewer)."""
    application = await get_application(session, application_id, for_update=True)
    _require_status(application, "submitted")
    granted = sorted(set(categories)) if categories else list(application.categories)
    extra = sorted(set(granted) - set(application.categories))
    if extra:
        raise InvalidError(
            "Only categories applied for can be granted.",
            code="supplier.categories_not_applied",
            title="只能授予申请的品目",
            errors=[_field("categories", f"not applied for: {', '.join(extra)}")],
        )
    now = _now()
    hits = await live_credit_entries(session, application.uscc, now.astimezone(SHANGHAI).date())
    if hits:  # listed since the application came in
        raise ConflictError(
            "The credit code is on a dishonesty list now; reject the application instead.",
            code="supplier.credit_list_hit",
            title="该供应商已被列入失信名单，不能通过审核",
            credit_hit=_entry_summary(hits[0]),
        )
    org = await session.get_one(Organisation, application.org_id, with_for_update=True)
    application.status = "approved"
    application.granted_categories = granted
    application.decided_at = now
    application.decided_by = principal.user_id
    org.status = OrgStatus.ACTIVE.value
    org.verified_at = now
    org.status_reason = None
    await session.execute(delete(supplier_category).where(supplier_category.c.org_id == org.id))
    await session.execute(
        insert(supplier_category), [{"org_id": org.id, "category_code": c} for c in granted]
    )
    await sla.meet(session, subject_type=SUBJECT, subject_id=application.id, kind=CLOCK, at=now)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="supplier_application.approved",
        subject_type=SUBJECT,
        subject_id=application.id,
        before={"status": "submitted"},
        after={"status": "approved", "granted_categories": granted, "org_status": org.status},
    )
    await notify(
        session,
        org_id=org.id,
        kind="supplier_application.approved",
        title_zh="您的入驻申请已通过审核",
        title_en="Your application was approved",
        body_zh="获准品目：" + "、".join(granted),
        body_en="Categories granted: " + ", ".join(granted),
        subject=(SUBJECT, application.id),
    )
    return application


async def reject(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    codes: list[str],
    reason: str,
) -> SupplierApplication:
    unknown = sorted(set(codes) - set(REJECTION_CODES))
    if not codes or unknown:
        raise InvalidError(
            "Give one or more known reason codes.",
            code="supplier.rejection_codes",
            title="请选择驳回原因",
            errors=[_field("reason_codes", f"known codes: {', '.join(REJECTION_CODES)}")],
        )
    application = await get_application(session, application_id, for_update=True)
    _require_status(application, "submitted", "info_requested")
    org = await session.get_one(Organisation, application.org_id, with_for_update=True)
    await _reject(
        session,
        application,
        org,
        audit.Actor.of(principal),
        codes=sorted(set(codes)),
        reason=reason,
        at=_now(),
    )
    return application


async def request_info(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, message: str
) -> SupplierApplication:
    """Ask the supplier for more; the verification clock stops until it answers."""
    application = await get_application(session, application_id, for_update=True)
    _require_status(application, "submitted")
    application.status = "info_requested"
    application.info_request = message
    await sla.pause(
        session,
        subject_type=SUBJECT,
        subject_id=application.id,
        kind=CLOCK,
        reason="info_requested",
        actor=audit.Actor.of(principal),
    )
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="supplier_application.info_requested",
        subject_type=SUBJECT,
        subject_id=application.id,
        before={"status": "submitted"},
        after={"status": "info_requested"},
        note=message,
    )
    await notify(
        session,
        org_id=application.org_id,
        kind="supplier_application.info_requested",
        title_zh="入驻申请需补充材料",
        title_en="Your application needs more information",
        body_zh=message,
        body_en=message,
        subject=(SUBJECT, application.id),
    )
    return application


async def resubmit(
    session: AsyncSession,
    calendar: WorkCalendar,
    principal: Principal,
    *,
    note: str,
    contact_name: str | None = None,
    contact_mobile: str | None = None,
) -> SupplierApplication:
    """The supplier answers a request for information; the clock runs again."""
    application = await own_application(session, principal)
    _require_status(application, "info_requested")
    changes: dict[str, Any] = {}
    if contact_mobile is not None:
        if not _MOBILE.match(contact_mobile):
            raise InvalidError(
                "Not a mobile number.",
                code="supplier.application_invalid",
                title="手机号码无效",
                errors=[_field("contact_mobile", "must be an 11-digit mainland mobile number")],
            )
        application.contact_mobile = changes["contact_mobile"] = contact_mobile
    if contact_name is not None:
        application.contact_name = changes["contact_name"] = contact_name
    application.status = "submitted"
    actor = audit.Actor.of(principal)
    clock = await sla.resume(
        session, calendar, subject_type=SUBJECT, subject_id=application.id, kind=CLOCK, actor=actor
    )
    await audit.record(
        session,
        actor=actor,
        action="supplier_application.resubmitted",
        subject_type=SUBJECT,
        subject_id=application.id,
        before={"status": "info_requested"},
        after={"status": "submitted", "changes": changes, "due_at": clock.due_at},
        note=note,
    )
    return application


async def reopen_rejected(
    session: AsyncSession,
    calendar: WorkCalendar,
    settings: Settings,
    actor: audit.Actor,
    application_id: uuid.UUID,
    *,
    reason: str,
) -> SupplierApplication:
    """An upheld objection to a rejection: the application is verified again, with a
    fresh verification clock; the organisation is pending again."""
    application = await get_application(session, application_id, for_update=True)
    _require_status(application, "rejected")
    org = await session.get_one(Organisation, application.org_id, with_for_update=True)
    before = {"status": "rejected", "codes": application.rejection_codes}
    now = _now()
    application.status = "submitted"
    application.decided_at = application.decided_by = None
    application.rejection_codes = application.rejection_reason = application.credit_hit = None
    org.status, org.status_reason = OrgStatus.PENDING.value, None
    clock = await sla.restart(
        session,
        calendar,
        settings.sla,
        subject_type=SUBJECT,
        subject_id=application.id,
        kind=CLOCK,
        responsible_org_id=None,
        actor=actor,
        at=now,
    )
    await audit.record(
        session,
        actor=actor,
        action="supplier_application.reopened",
        subject_type=SUBJECT,
        subject_id=application.id,
        before=before,
        after={"status": "submitted", "due_at": clock.due_at},
        note=reason,
    )
    await notify(
        session,
        org_id=org.id,
        kind="supplier_application.reopened",
        title_zh="您的异议成立，入驻申请将重新审核",
        title_en="Your objection was upheld: the application will be verified again",
        body_zh=reason,
        body_en=reason,
        subject=(SUBJECT, application.id),
    )
    return application
