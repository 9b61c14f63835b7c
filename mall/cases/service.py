"""Filing, following and deciding cases.

Statuses: ``submitted`` → ``accepted`` → ``investigating`` → ``upheld`` |
``dismissed`` → ``closed``; the filer may withdraw before a decision
(``withdrawn`` → ``closed``), and an inadmissible case is dismissed straight
from ``submitted``. Operators must accept within 2 working days
(``case_acceptance``) and decide within 15 after accepting
(``case_resolution``); both configurable.

Anonymity: an anonymous report stores no identity, only the SHA-256 of its
tracking code. A named filer is known to operators and never to the
respondent: what the respondent reads is built without the filer (see
``view_for``), the filer's evidence is not shown to it, and audit rows of an
anonymous report name no actor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind, User
from mall.auth.principal import Principal
from mall.calendar.core import WorkCalendar
from mall.cases.models import Case, CaseAttachment, CaseMessage
from mall.cases.subjects import Subject, resolver_for, subject_types
from mall.db import violates
from mall.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnauthenticatedError,
)
from mall.notifications.service import notify
from mall.penalties import service as penalties
from mall.penalties.models import PenaltyKind
from mall.settings import Settings
from mall.sla import service as sla
from mall.sla.models import SlaClock
from mall.storage import FileStore
from mall.suppliers.documents import sniff_media_type

SUBJECT = "case"
ACCEPT_CLOCK = "case_acceptance"
RESOLVE_CLOCK = "case_resolution"
TYPE_NAMES = {"objection": "异议", "report": "举报", "dispute": "争议"}
ANONYMOUS = audit.Actor(kind="anonymous")
# Which status may follow which (by operators; ``withdrawn`` is the filer's).
TRANSITIONS: dict[str, set[str]] = {
    "submitted": {"accepted", "dismissed", "withdrawn"},
    "accepted": {"investigating", "upheld", "dismissed", "withdrawn"},
    "investigating": {"upheld", "dismissed", "withdrawn"},
    "upheld": {"closed"},
    "dismissed": {"closed"},
    "withdrawn": {"closed"},
    "closed": set(),
}
OPEN = ("submitted", "accepted", "investigating")
# The unique index that holds one open objection per subject (migration 0012).
OPEN_OBJECTION_INDEX = "uq_case_file_open_objection"
# Tracking codes: 16 characters of Crockford's base32 (no I, L, O, U), in groups of four.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_tracking_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def tracking_digest(code: str) -> str:
    normalised = code.strip().upper().replace("-", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Filing:
    case_type: str
    subject_type: str
    subject_id: str
    claim: str
    anonymous: bool = False


def _field(name: str, message: str) -> list[dict[str, str]]:
    return [{"field": name, "message": message}]


def _already_open(case_id: uuid.UUID | None) -> ConflictError:
    extra = {"case_id": case_id} if case_id is not None else {}
    return ConflictError(
        "An objection to this is already open.",
        code="case.already_open",
        title="已有针对该对象的异议正在处理",
        **extra,
    )


async def _subject(
    session: AsyncSession, data: Filing, principal: Principal | None
) -> tuple[Any, Subject]:
    resolver = resolver_for(data.subject_type)
    if resolver is None:
        raise InvalidError(
            f"Cases cannot name a {data.subject_type!r}.",
            code="case.subject_type_unknown",
            title="不支持的案件对象类型",
            errors=_field("subject_type", f"one of {', '.join(subject_types())}"),
        )
    if data.case_type not in resolver.case_types:
        allowed = [name for name, types in subject_types().items() if data.case_type in types]
        raise InvalidError(
            f"A {data.case_type} cannot be about a {data.subject_type}.",
            code="case.subject_type_not_allowed",
            title=f"{TYPE_NAMES[data.case_type]}不能针对该类对象",
            errors=_field(
                "subject_type",
                f"for a {data.case_type}: {', '.join(allowed) or 'none available yet'}",
            ),
        )
    # A subject the filer may not know of is answered like one that does not exist.
    subject = await resolver.resolve(session, data.subject_id.strip(), principal)
    if subject is None:
        raise InvalidError(
            f"No {data.subject_type} {data.subject_id!r}.",
            code="case.subject_not_found",
            title="案件对象不存在",
            errors=_field("subject_id", "no such subject"),
        )
    return resolver, subject


async def file(
    session: AsyncSession,
    calendar: WorkCalendar,
    settings: Settings,
    principal: Principal | None,
    data: Filing,
) -> tuple[Case, str | None]:
    """Open a case; returns it and, for an anonymous report, its tracking code (shown once)."""
    if principal is None and data.case_type != "report":
        raise UnauthenticatedError(
            "Sign in to file an objection or a dispute; only reports may be anonymous."
        )
    if not data.claim.strip():
        raise InvalidError(
            "Say what the case is about.",
            code="case.claim_empty",
            title="请填写案件事由",
            errors=_field("claim", "empty"),
        )
    resolver, subject = await _subject(session, data, principal)
    anonymous = data.case_type == "report" and (data.anonymous or principal is None)
    subject = await resolver.for_filer(
        session, subject, data.case_type, principal, anonymous=anonymous
    )
    if data.anonymous and data.case_type != "report":
        raise InvalidError(
            "Only reports may be anonymous.",
            code="case.anonymous_not_allowed",
            title="仅举报可匿名提交",
            errors=_field("anonymous", "only for reports"),
        )
    if data.case_type == "objection":
        assert principal is not None
        if subject.affected_org_id != principal.org_id:
            raise ForbiddenError(
                "Only the affected party may object to this.",
                code="case.not_affected_party",
                title="仅利害关系方可提出异议",
            )
        await resolver.check_objection(session, subject)
        duplicate = await session.scalar(
            select(Case.id).where(
                Case.case_type == "objection",
                Case.subject_type == subject.subject_type,
                Case.subject_id == subject.subject_id,
                Case.status.in_(OPEN),
            )
        )
        if duplicate is not None:
            raise _already_open(duplicate)
    if principal is not None and subject.respondent_org_id == principal.org_id:
        raise InvalidError(
            "A party cannot file a case against itself.",
            code="case.against_self",
            title="不能针对本单位提起案件",
            errors=_field("subject_id", "your own"),
        )
    now = _now()
    code = new_tracking_code() if anonymous else None
    case = Case(
        case_type=data.case_type,
        subject_type=subject.subject_type,
        subject_id=subject.subject_id,
        status="submitted",
        claim=data.claim.strip(),
        anonymous=anonymous,
        filer_user_id=None if anonymous or principal is None else principal.user_id,
        filer_org_id=None if anonymous or principal is None else principal.org_id,
        respondent_org_id=subject.respondent_org_id,
        tracking_code_sha256=tracking_digest(code) if code else None,
        filed_at=now,
        outcome={},
    )
    try:
        # A savepoint: a racing objection loses here (the pre-check above cannot see it).
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError as exc:
        if not violates(exc, OPEN_OBJECTION_INDEX):
            raise
        raise _already_open(None) from None
    actor = ANONYMOUS if anonymous or principal is None else audit.Actor.of(principal)
    clock = await sla.start(
        session,
        calendar,
        settings.sla,
        subject_type=SUBJECT,
        subject_id=case.id,
        kind=ACCEPT_CLOCK,
        responsible_org_id=None,
        started_at=now,
    )
    if data.case_type == "objection":
        await resolver.on_filed(session, case, actor)
    await audit.record(
        session,
        actor=actor,
        action=f"case.{data.case_type}_filed",
        subject_type=SUBJECT,
        subject_id=case.id,
        after={
            "case_type": case.case_type,
            "subject_type": case.subject_type,
            "subject_id": case.subject_id,
            "anonymous": anonymous,
            "due_at": clock.due_at,
        },
    )
    await _notify_operators(
        session,
        kind="case.filed",
        title_zh=f"新的{TYPE_NAMES[case.case_type]}案件：{subject.label[:40]}",
        title_en=f"New {case.case_type}: {subject.subject_type} {subject.subject_id}",
        case=case,
    )
    return case, code


async def _notify_operators(
    session: AsyncSession, *, kind: str, title_zh: str, title_en: str, case: Case
) -> None:
    if case.assigned_to is not None:
        user = await session.get_one(User, case.assigned_to)
        await notify(
            session,
            org_id=user.org_id,
            user_id=user.id,
            kind=kind,
            title_zh=title_zh,
            title_en=title_en,
            subject=(SUBJECT, case.id),
        )
        return
    for org_id in (
        await session.scalars(
            select(Organisation.id).where(Organisation.kind == OrgKind.OPERATOR.value)
        )
    ).all():
        await notify(
            session,
            org_id=org_id,
            kind=kind,
            title_zh=title_zh,
            title_en=title_en,
            subject=(SUBJECT, case.id),
        )


async def _notify_parties(
    session: AsyncSession, case: Case, *, kind: str, title_zh: str, title_en: str, body: str = ""
) -> None:
    """The named filer and, once the case is accepted, the respondent (never told who filed)."""
    orgs = {case.filer_org_id}
    if case.accepted_at is not None:
        orgs.add(case.respondent_org_id)
    for org_id in orgs - {None}:
        assert org_id is not None
        await notify(
            session,
            org_id=org_id,
            kind=kind,
            title_zh=title_zh,
            title_en=title_en,
            body_zh=body,
            body_en=body,
            subject=(SUBJECT, case.id),
        )


# ----------------------------------------------------------------- reading


def role_of(case: Case, principal: Principal | None) -> str | None:
    """How the caller stands to the case: operator, regulator, filer, respondent, or None."""
    if principal is None:
        return None
    if principal.org_kind is OrgKind.OPERATOR:
        return "operator"
    if principal.org_kind is OrgKind.REGULATOR:
        return "regulator"
    if case.filer_org_id is not None and case.filer_org_id == principal.org_id:
        return "filer"
    if case.respondent_org_id == principal.org_id and case.accepted_at is not None:
        return "respondent"
    return None


def _visible_to(principal: Principal) -> Any:
    """Row visibility in the query: operators and regulators see every case; an
    organisation sees those it filed and, once accepted, those against it."""
    if principal.org_kind in (OrgKind.OPERATOR, OrgKind.REGULATOR):
        return True
    return or_(
        Case.filer_org_id == principal.org_id,
        (Case.respondent_org_id == principal.org_id) & Case.accepted_at.is_not(None),
    )


async def get(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, lock: bool = False
) -> tuple[Case, str]:
    query = select(Case).where(Case.id == case_id, _visible_to(principal))
    if lock:
        query = query.with_for_update()
    case = (await session.scalars(query)).one_or_none()
    role = role_of(case, principal) if case is not None else None
    if case is None or role is None:
        raise NotFoundError("No such case.", code="case.not_found", title="未找到该案件")
    return case, role


async def by_tracking_code(session: AsyncSession, code: str, *, lock: bool = False) -> Case:
    query = select(Case).where(Case.tracking_code_sha256 == tracking_digest(code))
    if lock:
        query = query.with_for_update()
    case = (await session.scalars(query)).one_or_none()
    if case is None:
        raise NotFoundError(
            "No case has this tracking code.", code="case.not_found", title="未找到该案件"
        )
    return case


async def listing(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    case_type: str | None,
    assigned_to_me: bool,
    limit: int,
    offset: int = 0,
) -> Sequence[Case]:
    query = (
        select(Case)
        .where(_visible_to(principal))
        .order_by(Case.filed_at.desc(), Case.id)
        .limit(limit)
        .offset(offset)
    )
    if status:
        query = query.where(Case.status == status)
    if case_type:
        query = query.where(Case.case_type == case_type)
    if assigned_to_me:
        query = query.where(Case.assigned_to == principal.user_id)
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as one reader may see it: the respondent's view has no filer in it."""

    case: Case
    role: str
    clocks: Sequence[SlaClock]
    messages: Sequence[CaseMessage]
    attachments: Sequence[CaseAttachment]
    filer: dict[str, Any] | None = field(default=None)


async def view_for(session: AsyncSession, case: Case, role: str) -> CaseView:
    messages_q = select(CaseMessage).where(CaseMessage.case_id == case.id)
    attachments_q = select(CaseAttachment).where(CaseAttachment.case_id == case.id)
    if role in ("filer", "respondent"):
        messages_q = messages_q.where(CaseMessage.visibility == "parties")
    if role == "respondent":
        # The filer's evidence may identify the filer: operators relay what is needed.
        attachments_q = attachments_q.where(CaseAttachment.role != "filer")
    clocks = (
        await session.scalars(
            select(SlaClock)
            .where(SlaClock.subject_type == SUBJECT, SlaClock.subject_id == str(case.id))
            .order_by(SlaClock.started_at)
        )
    ).all()
    filer = None
    if role in ("operator", "regulator", "filer") and case.filer_org_id is not None:
        org = await session.get_one(Organisation, case.filer_org_id)
        filer = {"org_id": org.id, "org_name": org.name, "user_id": case.filer_user_id}
    return CaseView(
        case=case,
        role=role,
        clocks=clocks,
        messages=(await session.scalars(messages_q.order_by(CaseMessage.created_at))).all(),
        attachments=(
            await session.scalars(attachments_q.order_by(CaseAttachment.created_at))
        ).all(),
        filer=filer,
    )


# ----------------------------------------------------------------- thread


async def post_message(
    session: AsyncSession,
    principal: Principal | None,
    case: Case,
    role: str,
    body: str,
    *,
    internal: bool = False,
) -> CaseMessage:
    """Add to the thread. Internal notes are the operators' own."""
    if role == "regulator":
        raise ForbiddenError(
            "Regulators read cases; operators handle them.", title="监管部门仅可查阅案件"
        )
    if case.status == "closed":
        raise ConflictError(
            "The case is closed.",
            code="case.state",
            title="案件已结案",
            current_status=case.status,
        )
    if internal and role != "operator":
        raise ForbiddenError("Only operators write internal notes.", title="仅运营机构可写内部备注")
    message = CaseMessage(
        case_id=case.id,
        role=role,
        visibility="operators" if internal else "parties",
        author_user_id=None
        if principal is None or (role == "filer" and case.anonymous)
        else principal.user_id,
        body=body.strip(),
    )
    session.add(message)
    await session.flush()
    actor = (
        audit.Actor.of(principal)
        if principal is not None and not (role == "filer" and case.anonymous)
        else ANONYMOUS
    )
    await audit.record(
        session,
        actor=actor,
        action="case.message_posted",
        subject_type=SUBJECT,
        subject_id=case.id,
        after={"message_id": message.id, "role": role, "visibility": message.visibility},
    )
    if role == "operator" and not internal:
        await _notify_parties(
            session,
            case,
            kind="case.message",
            title_zh="案件有新的留言",
            title_en="A new message on your case",
        )
    elif role != "operator":
        await _notify_operators(
            session,
            kind="case.message",
            title_zh="案件当事方有新的留言",
            title_en="A party wrote on a case",
            case=case,
        )
    return message


async def add_attachment(
    session: AsyncSession,
    store: FileStore,
    principal: Principal | None,
    case: Case,
    role: str,
    *,
    filename: str,
    content: bytes,
    max_bytes: int,
) -> CaseAttachment:
    """Evidence: PDF, JPEG or PNG (told by content), at most ``max_bytes``."""
    if role == "regulator":
        raise ForbiddenError(
            "Regulators read cases; operators handle them.", title="监管部门仅可查阅案件"
        )
    if case.status == "closed":
        raise ConflictError(
            "The case is closed.", code="case.state", title="案件已结案", current_status="closed"
        )
    errors = []
    media_type = sniff_media_type(content)
    if len(content) > max_bytes:
        errors.append({"field": "file", "message": f"larger than {max_bytes} bytes"})
    elif not content:
        errors.append({"field": "file", "message": "empty"})
    elif media_type is None:
        errors.append(
            {"field": "file", "message": "not a PDF, JPEG or PNG file (checked by content)"}
        )
    if errors:
        raise InvalidError(
            "The attachment was refused; see errors.",
            code="case.attachment_invalid",
            title="附件不符合要求",
            errors=errors,
        )
    assert media_type is not None
    digest = store.put(content)
    attachment = CaseAttachment(
        case_id=case.id,
        role=role,
        uploaded_by=None
        if principal is None or (case.anonymous and role == "filer")
        else principal.user_id,
        sha256=digest,
        media_type=media_type,
        size_bytes=len(content),
        original_name=filename[:255],
    )
    session.add(attachment)
    await session.flush()
    await audit.record(
        session,
        actor=ANONYMOUS
        if principal is None or (case.anonymous and role == "filer")
        else audit.Actor.of(principal),
        action="case.attachment_added",
        subject_type=SUBJECT,
        subject_id=case.id,
        after={"attachment_id": attachment.id, "role": role, "sha256": digest},
    )
    return attachment


async def attachment_for(
    session: AsyncSession, case: Case, role: str, attachment_id: uuid.UUID
) -> CaseAttachment:
    query = select(CaseAttachment).where(
        CaseAttachment.id == attachment_id, CaseAttachment.case_id == case.id
    )
    if role == "respondent":
        query = query.where(CaseAttachment.role != "filer")
    attachment = (await session.scalars(query)).one_or_none()
    if attachment is None:
        raise NotFoundError(
            "No such attachment.", code="case.attachment_not_found", title="未找到该附件"
        )
    return attachment


# ----------------------------------------------------------------- handling


async def assign(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, user_id: uuid.UUID | None
) -> Case:
    """Give the case to an operator user (by default, the caller)."""
    case, _ = await get(session, principal, case_id, lock=True)
    target_id = user_id or principal.user_id
    target = (
        await session.execute(
            select(User)
            .join(Organisation, Organisation.id == User.org_id)
            .where(
                User.id == target_id,
                User.is_active.is_(True),
                Organisation.kind == OrgKind.OPERATOR.value,
            )
        )
    ).scalar_one_or_none()
    if target is None:
        raise InvalidError(
            "Cases go to active operator users only.",
            code="case.assignee_invalid",
            title="只能指派给运营机构的在岗人员",
            errors=_field("user_id", "not an active operator user"),
        )
    if case.status == "closed":
        raise ConflictError(
            "The case is closed.", code="case.state", title="案件已结案", current_status="closed"
        )
    before = case.assigned_to
    case.assigned_to = target.id
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="case.assigned",
        subject_type=SUBJECT,
        subject_id=case.id,
        before={"assigned_to": before},
        after={"assigned_to": target.id},
    )
    if target.id != principal.user_id:
        await notify(
            session,
            org_id=target.org_id,
            user_id=target.id,
            kind="case.assigned",
            title_zh=f"您被指派办理一件{TYPE_NAMES[case.case_type]}案件",
            title_en=f"A {case.case_type} case was assigned to you",
            subject=(SUBJECT, case.id),
        )
    return case


def _require(case: Case, to: str) -> None:
    if to not in TRANSITIONS[case.status]:
        raise ConflictError(
            f"A {case.status} case cannot become {to}.",
            code="case.state",
            title="案件当前状态不允许此操作",
            current_status=case.status,
            allowed=sorted(TRANSITIONS[case.status]),
        )


async def _meet_open_clocks(session: AsyncSession, case: Case, at: dt.datetime) -> None:
    for kind in (ACCEPT_CLOCK, RESOLVE_CLOCK):
        clock = (
            await session.scalars(
                select(SlaClock).where(
                    SlaClock.subject_type == SUBJECT,
                    SlaClock.subject_id == str(case.id),
                    SlaClock.kind == kind,
                    SlaClock.met_at.is_(None),
                )
            )
        ).one_or_none()
        if clock is not None:
            await sla.meet(session, subject_type=SUBJECT, subject_id=case.id, kind=kind, at=at)


async def _moved(
    session: AsyncSession,
    actor: audit.Actor,
    case: Case,
    before: str,
    note: str,
    extra: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor=actor,
        action=f"case.{case.status}",
        subject_type=SUBJECT,
        subject_id=case.id,
        before={"status": before},
        after={"status": case.status} | (extra or {}),
        note=note or None,
    )


async def accept(
    session: AsyncSession,
    calendar: WorkCalendar,
    settings: Settings,
    principal: Principal,
    case_id: uuid.UUID,
    note: str,
) -> Case:
    """Accept (受理): the acceptance clock is met and the resolution clock starts."""
    case, _ = await get(session, principal, case_id, lock=True)
    _require(case, "accepted")
    now = _now()
    before, case.status, case.accepted_at = case.status, "accepted", now
    if case.assigned_to is None:
        case.assigned_to = principal.user_id
    await sla.meet(session, subject_type=SUBJECT, subject_id=case.id, kind=ACCEPT_CLOCK, at=now)
    clock = await sla.start(
        session,
        calendar,
        settings.sla,
        subject_type=SUBJECT,
        subject_id=case.id,
        kind=RESOLVE_CLOCK,
        responsible_org_id=None,
        started_at=now,
    )
    await _moved(session, audit.Actor.of(principal), case, before, note, {"due_at": clock.due_at})
    await _notify_parties(
        session,
        case,
        kind="case.accepted",
        title_zh=f"{TYPE_NAMES[case.case_type]}案件已受理",
        title_en=f"A {case.case_type} case was accepted",
        body=note,
    )
    return case


async def investigate(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, note: str
) -> Case:
    case, _ = await get(session, principal, case_id, lock=True)
    _require(case, "investigating")
    before, case.status = case.status, "investigating"
    await _moved(session, audit.Actor.of(principal), case, before, note)
    return case


async def decide(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    upheld: bool,
    note: str,
    penalty_code: str | None = None,
    public_reason: str | None = None,
) -> Case:
    """Uphold or dismiss. An upheld objection reverses its subject; an upheld
    report or dispute may apply a catalogued penalty to the respondent.

    The note is the parties' and the operators' (it may name people, phones,
    evidence): it is never published. A penalty is published with
    ``public_reason`` when the operator writes one for the public, else with the
    catalogue entry's names and the type of case (see ``public_penalty_reason``).
    """
    case, _ = await get(session, principal, case_id, lock=True)
    to = "upheld" if upheld else "dismissed"
    _require(case, to)
    public_reason = (public_reason or "").strip() or None
    if public_reason is not None and penalty_code is None:
        raise InvalidError(
            "A public reason goes with a penalty only.",
            code="case.public_reason_without_penalty",
            title="仅处以失信处理时可填写公示理由",
            errors=_field("public_reason", "only with penalty_code"),
        )
    if penalty_code is not None and (not upheld or case.case_type == "objection"):
        raise InvalidError(
            "A penalty follows an upheld report or dispute only.",
            code="case.penalty_not_allowed",
            title="仅成立的举报或争议可处以失信处理",
            errors=_field("penalty_code", "only when upholding a report or dispute"),
        )
    if penalty_code is not None and case.respondent_org_id is None:
        raise InvalidError(
            "This case has no respondent to penalise.",
            code="case.penalty_not_allowed",
            title="该案件无被处理对象",
            errors=_field("penalty_code", "no respondent"),
        )
    kind = None
    if penalty_code is not None:
        kind = await penalties.kind_of(session, penalty_code)
        respondent = await session.get_one(Organisation, case.respondent_org_id)
        if respondent.kind != OrgKind.SUPPLIER.value:
            raise InvalidError(
                "Penalties apply to suppliers; this case is against a purchasing unit.",
                code="case.penalty_not_allowed",
                title="失信处理仅适用于供应商",
                errors=_field("penalty_code", "the respondent is not a supplier"),
            )
    actor = audit.Actor.of(principal)
    now = _now()
    before, case.status, case.decided_at, case.decision_note = case.status, to, now, note
    await _meet_open_clocks(session, case, now)
    outcome: dict[str, Any] = {}
    resolver = resolver_for(case.subject_type)
    if case.case_type == "objection" and resolver is not None:
        if upheld:
            outcome["reversal"] = _jsonable(await resolver.reverse(session, case, actor))
        else:
            await resolver.on_dismissed(session, case, actor)
    if kind is not None:
        assert case.respondent_org_id is not None
        penalty = await penalties.apply(
            session,
            actor,
            supplier_id=case.respondent_org_id,
            code=kind.code,
            reason=public_reason or public_penalty_reason(kind, case.case_type),
            case_id=case.id,
        )
        outcome["penalty_id"] = str(penalty.id)
    case.outcome = outcome
    await _moved(session, actor, case, before, note, outcome)
    await _notify_parties(
        session,
        case,
        kind=f"case.{to}",
        title_zh=f"{TYPE_NAMES[case.case_type]}{'成立' if upheld else '不成立'}",
        title_en=f"The {case.case_type} was {to}",
        body=note,
    )
    return case


def public_penalty_reason(kind: PenaltyKind, case_type: str) -> str:
    """What the public reads as the reason of a penalty from a case, when the
    operator wrote none for it: the behaviour found and the type of case."""
    return (
        f"经查实：{kind.name_zh}（{TYPE_NAMES[case_type]}）"
        f" / Established on investigation: {kind.name_en} ({case_type})"
    )


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in value.items()}


async def withdraw(
    session: AsyncSession, principal: Principal | None, case: Case, role: str, note: str
) -> Case:
    """The filer withdraws before a decision."""
    if role != "filer":
        raise ForbiddenError("Only the filer may withdraw a case.", title="仅提起人可撤回案件")
    _require(case, "withdrawn")
    now = _now()
    before, case.status, case.decided_at = case.status, "withdrawn", now
    await _meet_open_clocks(session, case, now)
    actor = ANONYMOUS if principal is None or case.anonymous else audit.Actor.of(principal)
    resolver = resolver_for(case.subject_type)
    if case.case_type == "objection" and resolver is not None:
        await resolver.on_dismissed(session, case, actor)
    await _moved(session, actor, case, before, note)
    return case


async def close(session: AsyncSession, principal: Principal, case_id: uuid.UUID, note: str) -> Case:
    case, _ = await get(session, principal, case_id, lock=True)
    _require(case, "closed")
    before, case.status, case.closed_at = case.status, "closed", _now()
    await _moved(session, audit.Actor.of(principal), case, before, note)
    return case
