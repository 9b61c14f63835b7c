"""Rulesets as data: stored, activated (one at a time, audited), dry-run."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog import review
from catalog.models import Listing, ListingRevision, StoredRuleset
from mall import audit
from mall.auth.principal import Principal
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.listings.service import supplier_facts
from review_rules import RULES, Ruleset, evaluate


def _parse(version: str, settings: dict[str, Any]) -> Ruleset:
    try:
        ruleset = Ruleset.from_dict(settings | {"version": version})
    except (ValueError, TypeError) as exc:
        raise InvalidError(
            f"The ruleset is not valid: {exc}",
            code="ruleset.invalid",
            title="规则集配置无效",
            errors=[{"field": "settings", "message": str(exc)}],
        ) from None
    unknown = sorted((ruleset.enabled or frozenset()) - set(RULES)) + sorted(
        set(ruleset.severities) - set(RULES)
    )
    if unknown:
        raise InvalidError(
            "Unknown rule ids.",
            code="ruleset.unknown_rules",
            title="规则编号不存在",
            errors=[{"field": "settings", "message": f"unknown: {', '.join(unknown)}"}],
        )
    return ruleset


async def create(
    session: AsyncSession, principal: Principal, version: str, settings: dict[str, Any]
) -> StoredRuleset:
    ruleset = _parse(version, settings)
    if await session.scalar(select(StoredRuleset.id).where(StoredRuleset.version == version)):
        raise ConflictError(
            f"Ruleset {version} exists; versions are immutable.",
            code="ruleset.version_taken",
            title="规则集版本已存在",
        )
    stored = StoredRuleset(version=version, settings=ruleset.to_dict(), active=False)
    session.add(stored)
    await session.flush()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="ruleset.created",
        subject_type="ruleset",
        subject_id=stored.id,
        after={"version": version},
    )
    return stored


async def get(session: AsyncSession, ruleset_id: uuid.UUID) -> StoredRuleset:
    stored = await session.get(StoredRuleset, ruleset_id)
    if stored is None:
        raise NotFoundError("No such ruleset.", code="ruleset.not_found", title="规则集不存在")
    return stored


async def activate(
    session: AsyncSession, principal: Principal, ruleset_id: uuid.UUID
) -> StoredRuleset:
    stored = await get(session, ruleset_id)
    previous = (
        await session.scalars(
            select(StoredRuleset).where(StoredRuleset.active.is_(True)).with_for_update()
        )
    ).one_or_none()
    await session.execute(
        update(StoredRuleset).where(StoredRuleset.active.is_(True)).values(active=False)
    )
    await session.flush()
    stored.active, stored.activated_at = True, dt.datetime.now(dt.UTC)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="ruleset.activated",
        subject_type="ruleset",
        subject_id=stored.id,
        before={"active": previous.version if previous else "builtin"},
        after={"active": stored.version},
    )
    return stored


@dataclass
class DryRun:
    listings: int = 0
    changed: int = 0
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    sample: list[dict[str, Any]] = field(default_factory=list)


async def dry_run(
    session: AsyncSession, ruleset_id: uuid.UUID, *, limit: int = 10_000, sample: int = 20
) -> DryRun:
    """How decisions on live listings would change under this ruleset; changes nothing."""
    candidate = _parse((stored := await get(session, ruleset_id)).version, stored.settings)
    current = await review.active_ruleset(session)
    rows = (
        await session.execute(
            select(Listing, ListingRevision)
            .join(ListingRevision, ListingRevision.id == Listing.live_revision_id)
            .where(Listing.status == "approved", Listing.delisted_at.is_(None))
            .order_by(Listing.id)
            .limit(limit)
        )
    ).all()
    result = DryRun()
    suppliers: dict[uuid.UUID, Any] = {}
    for listing, revision in rows:
        if listing.supplier_id not in suppliers:
            suppliers[listing.supplier_id] = await supplier_facts(session, listing.supplier_id)
        facts = await review.build_facts(
            session, revision, suppliers[listing.supplier_id], candidate.abnormally_low_pct
        )
        now, then = evaluate(facts, current), evaluate(facts, candidate)
        result.listings += 1
        result.before[now.outcome.value] += 1
        result.after[then.outcome.value] += 1
        result.by_rule.update({f.rule_id for f in then.findings})
        if now.outcome != then.outcome:
            result.changed += 1
            if len(result.sample) < sample:
                result.sample.append(
                    {
                        "listing_id": str(listing.id),
                        "before": now.outcome.value,
                        "after": then.outcome.value,
                        "rules": sorted({f.rule_id for f in then.findings}),
                    }
                )
    return result
