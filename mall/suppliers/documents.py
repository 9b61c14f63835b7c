"""Qualification documents: business licence, financial report, tax and
social-security proofs, uploaded once a year (一次提交, 全年有效).

Types are recognised by content, never by file name; files are stored once
under their SHA-256. A missing or expired document blocks new listings
(review rule ``SUPPLIER.DOCUMENT_EXPIRED``); suppliers migrated from an older
system count as qualified until their ``qualified_until`` date.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind
from mall.auth.principal import Principal
from mall.calendar.core import SHANGHAI
from mall.errors import InvalidError, NotFoundError
from mall.notifications.service import notify
from mall.storage import FileStore
from mall.suppliers.models import DOCUMENT_KINDS, SupplierDocument

DOCUMENT_NAMES_ZH = {
    "business_licence": "营业执照",
    "financial_report": "财务报告",
    "tax_payment_proof": "纳税证明",
    "social_security_proof": "社保缴纳证明",
}
MANDATORY = DOCUMENT_KINDS
EXPIRING_WITHIN_DAYS = 30


def sniff_media_type(content: bytes) -> str | None:
    """PDF, JPEG or PNG, told by the first bytes; None for anything else."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


async def upload(
    session: AsyncSession,
    store: FileStore,
    principal: Principal,
    *,
    kind: str,
    valid_until: dt.date,
    valid_from: dt.date | None = None,
    filename: str,
    content: bytes,
    max_bytes: int,
) -> SupplierDocument:
    """Store a document; it replaces the current one of the same kind."""
    errors = []
    if kind not in DOCUMENT_KINDS:
        errors.append({"field": "kind", "message": f"one of {', '.join(DOCUMENT_KINDS)}"})
    if len(content) > max_bytes:
        errors.append({"field": "file", "message": f"larger than {max_bytes} bytes"})
    elif not content:
        errors.append({"field": "file", "message": "empty"})
    media_type = sniff_media_type(content)
    if content and media_type is None:
        errors.append(
            {"field": "file", "message": "not a PDF, JPEG or PNG file (checked by content)"}
        )
    today = _today()
    if valid_until < today:
        errors.append({"field": "valid_until", "message": "already expired"})
    if valid_from is not None and valid_from > today:
        errors.append({"field": "valid_from", "message": "in the future: not valid yet"})
    elif valid_from is not None and valid_from > valid_until:
        errors.append({"field": "valid_from", "message": "after valid_until"})
    if errors:
        raise InvalidError(
            "The document was refused; see errors.",
            code="supplier.document_invalid",
            title="资质文件不符合要求",
            errors=errors,
        )
    assert media_type is not None
    digest = store.put(content)
    now = dt.datetime.now(dt.UTC)
    await session.execute(
        update(SupplierDocument)
        .where(
            SupplierDocument.org_id == principal.org_id,
            SupplierDocument.kind == kind,
            SupplierDocument.superseded_at.is_(None),
        )
        .values(superseded_at=now)
    )
    document = SupplierDocument(
        org_id=principal.org_id,
        kind=kind,
        sha256=digest,
        media_type=media_type,
        size_bytes=len(content),
        original_name=filename[:255],
        valid_from=valid_from or today,
        valid_until=valid_until,
        uploaded_by=principal.user_id,
    )
    session.add(document)
    await session.flush()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="supplier_document.uploaded",
        subject_type="organisation",
        subject_id=principal.org_id,
        after={
            "document_id": document.id,
            "kind": kind,
            "sha256": digest,
            "valid_from": document.valid_from,
            "valid_until": valid_until,
        },
    )
    return document


@dataclass(frozen=True, slots=True)
class DocumentStatus:
    current: Sequence[SupplierDocument]
    expiring_soon: list[str]  # kinds valid for 30 days or fewer
    blocking: list[str]  # mandatory kinds missing or expired: no new listings


async def status(session: AsyncSession, org_id: uuid.UUID) -> DocumentStatus:
    today = _today()
    current = (
        await session.scalars(
            select(SupplierDocument)
            .where(SupplierDocument.org_id == org_id, SupplierDocument.superseded_at.is_(None))
            .order_by(SupplierDocument.kind)
        )
    ).all()
    org = await session.get(Organisation, org_id)
    migrated_until = org.qualified_until if org is not None else None
    valid_until = {d.kind: d.valid_until for d in current}
    blocking, expiring = [], []
    for kind in MANDATORY:
        until = valid_until.get(kind) or migrated_until
        if until is None or until < today:
            blocking.append(kind)
        elif (until - today).days <= EXPIRING_WITHIN_DAYS:
            expiring.append(kind)
    return DocumentStatus(current=current, expiring_soon=expiring, blocking=blocking)


def is_expired(document: SupplierDocument, today: dt.date | None = None) -> bool:
    """Past its last valid day (Beijing time)."""
    return document.valid_until < (today or _today())


def _supplier_not_found() -> NotFoundError:
    return NotFoundError("No such supplier.", code="supplier.not_found", title="未找到该供应商")


async def status_of_supplier(session: AsyncSession, org_id: uuid.UUID) -> DocumentStatus:
    """The current documents of a supplier organisation (applicants included), for
    the operators and regulators who verify them; any other organisation is 404."""
    kind = await session.scalar(select(Organisation.kind).where(Organisation.id == org_id))
    if kind != OrgKind.SUPPLIER.value:
        raise _supplier_not_found()
    return await status(session, org_id)


async def get_of_supplier(
    session: AsyncSession, org_id: uuid.UUID, document_id: uuid.UUID
) -> SupplierDocument:
    """A document of that supplier (current or superseded); another one's is 404."""
    document = (
        await session.scalars(
            select(SupplierDocument)
            .join(Organisation, Organisation.id == SupplierDocument.org_id)
            .where(
                SupplierDocument.id == document_id,
                SupplierDocument.org_id == org_id,
                Organisation.kind == OrgKind.SUPPLIER.value,
            )
        )
    ).one_or_none()
    if document is None:
        raise NotFoundError(
            "No such document.", code="supplier.document_not_found", title="未找到该文件"
        )
    return document


def download_name(document: SupplierDocument) -> tuple[str, str]:
    """The file name to offer: an ASCII fallback and the original (UTF-8) name."""
    extensions = {
        "application/pdf": (".pdf",),
        "image/jpeg": (".jpg", ".jpeg"),
        "image/png": (".png",),
    }[document.media_type]
    extension = extensions[0]
    original = "".join(c for c in document.original_name if c.isprintable() and c not in '"\\/')
    if not original.lower().endswith(extensions):
        original = f"{original or document.kind}{extension}"
    return f"{document.kind}-{document.valid_until.isoformat()}{extension}", original


async def get_own(
    session: AsyncSession, principal: Principal, document_id: uuid.UUID
) -> SupplierDocument:
    document = (
        await session.scalars(
            select(SupplierDocument).where(
                SupplierDocument.id == document_id, SupplierDocument.org_id == principal.org_id
            )
        )
    ).one_or_none()
    if document is None:
        raise NotFoundError(
            "No such document.", code="supplier.document_not_found", title="未找到该文件"
        )
    return document


async def send_expiry_reminders(session: AsyncSession, today: dt.date | None = None) -> int:
    """Remind each supplier 30 and 7 days before a document expires (once each)."""
    today = today or _today()
    sent = 0
    for days, column, after in (
        (30, SupplierDocument.reminded_30_at, 7),  # nearer than 7 days: only the 7-day reminder
        (7, SupplierDocument.reminded_7_at, -1),
    ):
        due = (
            await session.scalars(
                select(SupplierDocument)
                .where(
                    SupplierDocument.superseded_at.is_(None),
                    SupplierDocument.valid_until <= today + dt.timedelta(days=days),
                    SupplierDocument.valid_until > today + dt.timedelta(days=after),
                    column.is_(None),
                )
                .with_for_update(skip_locked=True)
            )
        ).all()
        for document in due:
            setattr(document, column.key, dt.datetime.now(dt.UTC))
            name = DOCUMENT_NAMES_ZH[document.kind]
            await notify(
                session,
                org_id=document.org_id,
                kind=f"supplier_document.expires_in_{days}_days",
                title_zh=f"{name}将于 {document.valid_until} 到期，请及时更新",
                title_en=f"Your {document.kind.replace('_', ' ')} expires on"
                f" {document.valid_until}",
                subject=("supplier_document", document.id),
            )
            sent += 1
    return sent
