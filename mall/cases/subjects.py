"""What a case can be about: a registry of subject resolvers.

A resolver knows one ``subject_type``: which case types may name it, how to
find the subject and the parties (the respondent a case is against, the
affected party who may object), what filing an objection does to it (a
price-fix clock stops) and how an upheld objection reverses it. Orders plug
in as ``OrderSubject``: a dispute is between the two parties of an order,
and which of them is the respondent depends on who files (``for_filer``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Listing, ListingRevision, ReviewDecision
from mall import audit
from mall.auth.models import Organisation, OrgKind
from mall.auth.principal import Principal
from mall.calendar.service import load_calendar
from mall.cases.models import Case
from mall.errors import ConflictError, ForbiddenError, InvalidError
from mall.orders.models import PurchaseOrder
from mall.penalties import service as penalties
from mall.penalties.models import Penalty
from mall.settings import get_settings
from mall.sla import service as sla
from mall.suppliers import service as suppliers
from mall.suppliers.models import OperatorCase, SupplierApplication
from pricing_monitor.models import PriceViolation

__all__ = ["Subject", "SubjectResolver", "register", "resolver_for", "subject_types"]


@dataclass(frozen=True, slots=True)
class Subject:
    subject_type: str
    subject_id: str
    # The party a case is against (reports, disputes) or whose decision is objected to.
    respondent_org_id: uuid.UUID | None
    # Who may object to it (objections only).
    affected_org_id: uuid.UUID | None
    label: str


class SubjectResolver:
    """Base resolver: override what a subject type needs."""

    subject_type: ClassVar[str]
    case_types: ClassVar[frozenset[str]]

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        """The subject, or None when there is none or the filer may not know of it (a
        subject the filer cannot see answers exactly as one that does not exist)."""
        raise NotImplementedError

    async def check_objection(self, session: AsyncSession, subject: Subject) -> None:
        """Raise when the subject cannot be objected to now."""

    async def for_filer(
        self,
        session: AsyncSession,
        subject: Subject,
        case_type: str,
        filer: Principal | None,
        *,
        anonymous: bool = False,
    ) -> Subject:
        """The subject as this filer's case sees it (who the respondent is); raise when
        this filer may not file this type of case about it (or not anonymously)."""
        return subject

    async def on_filed(self, session: AsyncSession, case: Case, actor: audit.Actor) -> None:
        """An objection was filed."""

    async def reverse(
        self, session: AsyncSession, case: Case, actor: audit.Actor
    ) -> dict[str, Any]:
        """An objection was upheld: undo what it objected to; say what was done."""
        return {}

    async def on_dismissed(self, session: AsyncSession, case: Case, actor: audit.Actor) -> None:
        """An objection was dismissed or withdrawn."""


_RESOLVERS: dict[str, SubjectResolver] = {}


def register(resolver: SubjectResolver) -> SubjectResolver:
    """Add a resolver; a subject type has one resolver."""
    existing = _RESOLVERS.get(resolver.subject_type)
    if existing is not None and type(existing) is not type(resolver):
        raise ValueError(f"subject type {resolver.subject_type!r} is registered twice")
    _RESOLVERS[resolver.subject_type] = resolver
    return resolver


def resolver_for(subject_type: str) -> SubjectResolver | None:
    return _RESOLVERS.get(subject_type)


def subject_types() -> dict[str, list[str]]:
    """Each known subject type and the case types that may name it."""
    return {name: sorted(r.case_types) for name, r in sorted(_RESOLVERS.items())}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _state_conflict(detail: str, title: str) -> ConflictError:
    return ConflictError(detail, code="case.subject_state", title=title)


class SupplierSubject(SubjectResolver):
    subject_type = "supplier"
    case_types = frozenset({"report"})

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        org_id = _uuid(subject_id)
        org = await session.get(Organisation, org_id) if org_id else None
        if org is None or org.kind != OrgKind.SUPPLIER.value:
            return None
        return Subject(self.subject_type, str(org.id), org.id, None, org.name)


class ListingSubject(SubjectResolver):
    """A listing: reported by anyone; objected to by its supplier, which names the
    listing's latest rejection (the case is then about that review decision)."""

    subject_type = "listing"
    case_types = frozenset({"report", "objection"})

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        listing_id = _uuid(subject_id)
        listing = await session.get(Listing, listing_id) if listing_id else None
        if listing is None or listing.current_revision_id is None:
            return None
        revision = await session.get_one(ListingRevision, listing.current_revision_id)
        return Subject(
            self.subject_type, str(listing.id), listing.supplier_id, None, revision.title
        )

    async def for_filer(
        self,
        session: AsyncSession,
        subject: Subject,
        case_type: str,
        filer: Principal | None,
        *,
        anonymous: bool = False,
    ) -> Subject:
        if case_type != "objection":
            return subject
        if filer is None or filer.org_id != subject.respondent_org_id:
            # Another party's listing: answered as for a listing that does not exist.
            raise InvalidError(
                f"No listing {subject.subject_id!r} of yours.",
                code="case.subject_not_found",
                title="案件对象不存在",
                errors=[{"field": "subject_id", "message": "no such listing of yours"}],
            )
        decision_id = await session.scalar(
            select(ReviewDecision.id)
            .where(
                ReviewDecision.listing_id == uuid.UUID(subject.subject_id),
                ReviewDecision.outcome == "rejected",
            )
            .order_by(ReviewDecision.created_at.desc())
            .limit(1)
        )
        if decision_id is None:
            raise _state_conflict(
                "The listing has no rejection to object to.", "该商品没有可提出异议的驳回决定"
            )
        found = await _REVIEW_DECISIONS.resolve(session, str(decision_id), filer)
        assert found is not None
        return found

    async def check_objection(self, session: AsyncSession, subject: Subject) -> None:
        await _REVIEW_DECISIONS.check_objection(session, subject)


class ReviewDecisionSubject(SubjectResolver):
    """A rejected listing revision: upheld, it goes back to a person for review."""

    subject_type = "review_decision"
    case_types = frozenset({"objection"})

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        decision_id = _uuid(subject_id)
        decision = await session.get(ReviewDecision, decision_id) if decision_id else None
        if decision is None:
            return None
        revision = await session.get_one(ListingRevision, decision.revision_id)
        return Subject(
            self.subject_type,
            str(decision.id),
            None,
            revision.supplier_id,
            f"{revision.title}（第 {revision.number} 版）",
        )

    async def check_objection(self, session: AsyncSession, subject: Subject) -> None:
        decision = await session.get_one(ReviewDecision, uuid.UUID(subject.subject_id))
        revision = await session.get_one(ListingRevision, decision.revision_id)
        if decision.outcome != "rejected" or revision.status != "rejected":
            raise _state_conflict(
                "Only a standing rejection can be objected to.", "只能对驳回决定提出异议"
            )

    async def reverse(
        self, session: AsyncSession, case: Case, actor: audit.Actor
    ) -> dict[str, Any]:
        decision = await session.get_one(ReviewDecision, uuid.UUID(case.subject_id))
        revision = await session.get_one(
            ListingRevision, decision.revision_id, with_for_update=True
        )
        if revision.status != "rejected":
            return {"re_review": False, "revision_status": revision.status}
        listing = await session.get_one(Listing, revision.listing_id, with_for_update=True)
        revision.status, revision.claimed_by = "manual_review", None
        if listing.current_revision_id == revision.id:
            listing.status = "manual_review"
        clock = await sla.restart(
            session,
            await load_calendar(session),
            get_settings().sla,
            subject_type="listing_revision",
            subject_id=revision.id,
            kind="listing_review",
            responsible_org_id=None,
            actor=actor,
        )
        await audit.record(
            session,
            actor=actor,
            action="listing.review.reopened",
            subject_type="listing",
            subject_id=listing.id,
            before={"revision": revision.number, "status": "rejected"},
            after={"status": "manual_review", "case_id": case.id, "due_at": clock.due_at},
        )
        return {"re_review": True, "revision_id": str(revision.id), "due_at": clock.due_at}


class PriceViolationSubject(SubjectResolver):
    """An open price violation: its fix clock stops while the objection is open."""

    subject_type = "price_violation"
    case_types = frozenset({"objection"})
    clock = "price_fix"

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        violation_id = _uuid(subject_id)
        violation = await session.get(PriceViolation, violation_id) if violation_id else None
        if violation is None:
            return None
        return Subject(
            self.subject_type,
            str(violation.id),
            None,
            violation.supplier_id,
            f"价格偏离 {violation.deviation_pct}%",
        )

    async def check_objection(self, session: AsyncSession, subject: Subject) -> None:
        violation = await session.get_one(PriceViolation, uuid.UUID(subject.subject_id))
        legacy = await session.scalar(
            select(OperatorCase.id).where(
                OperatorCase.case_type == "price_objection",
                OperatorCase.subject_id == subject.subject_id,
                OperatorCase.status == "open",
            )
        )
        if violation.status != "open" or legacy is not None:
            raise _state_conflict(
                "Only an open violation with no open objection can be objected to.",
                "该价格违规已处理或已有异议",
            )

    async def on_filed(self, session: AsyncSession, case: Case, actor: audit.Actor) -> None:
        await sla.pause(
            session,
            subject_type=self.subject_type,
            subject_id=case.subject_id,
            kind=self.clock,
            reason="objection",
            actor=actor,
        )

    async def reverse(
        self, session: AsyncSession, case: Case, actor: audit.Actor
    ) -> dict[str, Any]:
        violation = await session.get_one(
            PriceViolation, uuid.UUID(case.subject_id), with_for_update=True
        )
        if violation.status != "open":
            return {"violation_status": violation.status}
        now = dt.datetime.now(dt.UTC)
        violation.status, violation.resolution, violation.resolved_at = (
            "resolved",
            "objection_upheld",
            now,
        )
        await sla.meet(
            session,
            subject_type=self.subject_type,
            subject_id=violation.id,
            kind=self.clock,
            at=now,
        )
        return {"violation_status": "resolved", "resolution": "objection_upheld"}

    async def on_dismissed(self, session: AsyncSession, case: Case, actor: audit.Actor) -> None:
        violation = await session.get_one(PriceViolation, uuid.UUID(case.subject_id))
        if violation.status == "open":
            await sla.resume(
                session,
                await load_calendar(session),
                subject_type=self.subject_type,
                subject_id=violation.id,
                kind=self.clock,
                actor=actor,
            )


class PenaltySubject(SubjectResolver):
    """A published penalty, within its appeal window: upheld, it is revoked."""

    subject_type = "penalty"
    case_types = frozenset({"objection"})

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        penalty_id = _uuid(subject_id)
        if penalty_id is None:
            return None
        penalty = await session.get(Penalty, penalty_id)
        if penalty is None:
            return None
        return Subject(self.subject_type, str(penalty.id), None, penalty.supplier_id, penalty.code)

    async def check_objection(self, session: AsyncSession, subject: Subject) -> None:
        penalty = await penalties.get(session, uuid.UUID(subject.subject_id))
        if penalty.status == "revoked":
            raise _state_conflict("The penalty is revoked already.", "该处理已撤销")
        if dt.datetime.now(dt.UTC) > penalty.appeal_until:
            raise ConflictError(
                "The appeal window of this penalty has ended.",
                code="case.appeal_window_closed",
                title="异议期已过",
                appeal_until=penalty.appeal_until,
            )

    async def reverse(
        self, session: AsyncSession, case: Case, actor: audit.Actor
    ) -> dict[str, Any]:
        penalty = await penalties.get(session, uuid.UUID(case.subject_id))
        if penalty.status == "revoked":
            return {"penalty_status": "revoked"}
        await penalties.revoke(session, actor, penalty.id, f"异议成立（案件 {case.id}）")
        return {"penalty_status": "revoked"}


class ApplicationSubject(SubjectResolver):
    """A rejected supplier application: upheld, it is verified again."""

    subject_type = "application"
    case_types = frozenset({"objection"})

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        application_id = _uuid(subject_id)
        application = (
            await session.get(SupplierApplication, application_id) if application_id else None
        )
        if application is None:
            return None
        return Subject(
            self.subject_type,
            str(application.id),
            None,
            application.org_id,
            application.company_name,
        )

    async def check_objection(self, session: AsyncSession, subject: Subject) -> None:
        application = await session.get_one(SupplierApplication, uuid.UUID(subject.subject_id))
        if application.status != "rejected":
            raise _state_conflict("Only a rejection can be objected to.", "只能对驳回决定提出异议")

    async def reverse(
        self, session: AsyncSession, case: Case, actor: audit.Actor
    ) -> dict[str, Any]:
        application = await suppliers.reopen_rejected(
            session,
            await load_calendar(session),
            get_settings(),
            actor,
            uuid.UUID(case.subject_id),
            reason=f"异议成立（案件 {case.id}）",
        )
        return {"application_status": application.status}


class OrderSubject(SubjectResolver):
    """An order: a dispute between its two parties, or a report against its supplier.

    Either party may file a dispute; the other party is the respondent. An order
    is public once completed (see ``mall.disclosure.orders``); before that only
    its two parties (and operators) know its id. So a completed order may be
    reported by anyone, anonymously too, while an order not completed exists,
    for cases, only for its parties: anyone else is told there is no such order,
    and a party's report names its author (anonymity would be a pretence: the
    supplier would know the report came from the purchasing unit). An upheld
    dispute or report changes nothing on the order itself: the decision is
    recorded and the operator may apply a penalty to a supplier respondent
    (returns and terminations have their own verified procedure, see
    ``mall.orders``).
    """

    subject_type = "order"
    case_types = frozenset({"dispute", "report"})

    async def resolve(
        self, session: AsyncSession, subject_id: str, filer: Principal | None = None
    ) -> Subject | None:
        order_id = _uuid(subject_id)
        order = await session.get(PurchaseOrder, order_id) if order_id else None
        if order is None:
            return None
        if not _is_public(order) and not _is_party(order, filer):
            return None
        return Subject(
            self.subject_type,
            str(order.id),
            order.supplier_org_id,
            None,
            f"订单 {order.id}（{order.total_amount} 元）",
        )

    async def for_filer(
        self,
        session: AsyncSession,
        subject: Subject,
        case_type: str,
        filer: Principal | None,
        *,
        anonymous: bool = False,
    ) -> Subject:
        order = await session.get_one(PurchaseOrder, uuid.UUID(subject.subject_id))
        if case_type == "report":
            if anonymous and not _is_public(order):
                raise InvalidError(
                    "Only the parties know of an order that is not completed, so an anonymous"
                    " report about it would still identify its author: file a dispute, or a"
                    " named report.",
                    code="case.anonymous_not_allowed",
                    title="订单未完成前仅双方知晓，匿名举报仍会暴露身份，请提起争议或实名举报",
                    errors=[
                        {
                            "field": "anonymous",
                            "message": "not for an order that is not completed: file a"
                            " dispute or a named report",
                        }
                    ],
                )
            return subject
        parties = {order.purchaser_org_id: order.supplier_org_id}
        parties[order.supplier_org_id] = order.purchaser_org_id
        if filer is None or filer.org_id not in parties:
            raise ForbiddenError(
                "Only the purchasing unit or the supplier of the order may file a dispute.",
                code="case.not_a_party",
                title="仅订单双方可提起争议",
            )
        return Subject(
            subject.subject_type,
            subject.subject_id,
            parties[filer.org_id],
            None,
            subject.label,
        )


def _is_public(order: PurchaseOrder) -> bool:
    """Completed orders are published (``/public/orders``); others are known only to
    their parties and the operators."""
    return order.status == "completed"


def _is_party(order: PurchaseOrder, filer: Principal | None) -> bool:
    return filer is not None and filer.org_id in (order.purchaser_org_id, order.supplier_org_id)


_REVIEW_DECISIONS = ReviewDecisionSubject()

for _resolver in (
    SupplierSubject(),
    ListingSubject(),
    _REVIEW_DECISIONS,
    PriceViolationSubject(),
    PenaltySubject(),
    ApplicationSubject(),
    OrderSubject(),
):
    register(_resolver)
