"""Random spot checks (双随机, 一公开): commit, snapshot, reveal, draw, inspect.

A regulator defines a draw with the SHA-256 of a secret seed; the population
(and the inspector pool) is snapshotted and published with its digest at once.
The commitment fixes a reveal time at least an hour later; the seed may be
revealed from then on, and the draw mixes it with the audit chain's head at
that time (the beacon), which nobody knew when the seed was committed: a seed
cannot be tried offline until it picks or spares a subject. Revealing checks
the seed against the commitment, then draws the items and inspectors with
``mall.spotchecks.draw``, which anyone can run on the published data to get
the same selection.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Listing
from mall import audit
from mall.audit.service import AUDIT_LOCK_KEY, GENESIS_HASH
from mall.auth.models import Organisation, OrgKind, OrgStatus, User
from mall.auth.principal import Principal
from mall.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from mall.orders.models import OrderLine, PurchaseOrder
from mall.spotchecks import draw
from mall.spotchecks.models import SpotCheck, SpotCheckItem

SUBJECT = "spot_check"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The least time between the commitment and the reveal.
MIN_REVEAL_DELAY = dt.timedelta(hours=1)
MAX_REVEAL_DELAY = dt.timedelta(days=366)
ALGORITHM = (
    "draw key = seed + ':' + beacon_hash (the seed alone when beacon_hash is null), where "
    "beacon_hash is the hash of audit event beacon_audit_id, the last one recorded before "
    "reveal_after by anyone but the defining regulator's organisation (64 zeros when there "
    "is none); "
    "population = distinct ids sorted by UTF-8 bytes; key(id) = HMAC-SHA256(key=draw key, "
    "msg='item:' + id) in hex; the sample_size ids with the smallest keys, smallest first. "
    "Inspectors likewise from the pool with msg='inspector:' + user id; item i goes to "
    "inspector i mod inspector_count. population_sha256 = SHA-256 of the sorted ids joined "
    "by '\\n'; seed_sha256 = SHA-256(seed)."
)


def _field(name: str, message: str) -> list[dict[str, str]]:
    return [{"field": name, "message": message}]


async def _population(session: AsyncSession, population: str, filters: dict[str, Any]) -> list[str]:
    """The ids of the population; ``filters`` are parsed (see ``parse_filters``)."""
    if population == "suppliers":
        query = select(cast(Organisation.id, String)).where(
            Organisation.kind == OrgKind.SUPPLIER.value,
            Organisation.status == OrgStatus.ACTIVE.value,
        )
        if filters.get("region_prefix") is not None:
            query = query.where(Organisation.region_code.startswith(filters["region_prefix"]))
        if filters.get("in_region") is not None:
            query = query.where(Organisation.in_region.is_(filters["in_region"]))
    elif population == "live_listings":
        query = select(cast(Listing.id, String)).where(
            Listing.live_revision_id.is_not(None), Listing.delisted_at.is_(None)
        )
        if filters.get("category_prefix") is not None:
            query = query.where(Listing.category_code.startswith(filters["category_prefix"]))
        if filters.get("supplier_region_prefix") is not None:
            query = query.join(Organisation, Organisation.id == Listing.supplier_id).where(
                Organisation.region_code.startswith(filters["supplier_region_prefix"])
            )
    elif population == "completed_orders":
        query = _completed_orders(filters)
    else:
        raise InvalidError(
            f"The population {population!r} is not available.",
            code="spotcheck.population_unavailable",
            title="暂不支持该抽查范围",
            errors=_field("population", ", ".join(FILTERS)),
        )
    return list((await session.scalars(query)).all())


# Completion days a filter may name: nothing was completed before 2000, and a day
# near the ends of the calendar has no midnight in UTC (``datetime`` would overflow).
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(9998, 12, 31)


def _code_prefix(value: Any) -> str:
    """A region or category code, or its start: letters and digits, 1 to 32."""
    if not isinstance(value, str) or not value.isascii() or not value.isalnum():
        raise ValueError(value)
    if len(value) > 32:
        raise ValueError(value)
    return value


def _strict_bool(value: Any) -> bool:
    """JSON true or false only: ``bool("false")`` is True."""
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _completion_day(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise ValueError(value)
    day = dt.date.fromisoformat(value)
    if not EARLIEST <= day <= LATEST:
        raise ValueError(value)
    return day


def _org_id(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise ValueError(value)
    return uuid.UUID(value)


_DAY = f"a date (YYYY-MM-DD) from {EARLIEST} to {LATEST}, Beijing time, included"
_PREFIX = "a code or its start (a string of 1 to 32 letters and digits)"
# Per population: each filter, how it is parsed and what it expects.
FILTERS: dict[str, dict[str, tuple[Any, str]]] = {
    "suppliers": {
        "region_prefix": (_code_prefix, f"a region {_PREFIX}"),
        "in_region": (_strict_bool, "true or false"),
    },
    "live_listings": {
        "category_prefix": (_code_prefix, f"a category {_PREFIX}"),
        "supplier_region_prefix": (_code_prefix, f"a region {_PREFIX}"),
    },
    "completed_orders": {
        "completed_from": (_completion_day, _DAY),
        "completed_to": (_completion_day, _DAY),
        "supplier_id": (_org_id, "a supplier's organisation id (UUID, as a string)"),
        "category_prefix": (_code_prefix, f"a category {_PREFIX}"),
    },
}


def parse_filters(population: str, filters: dict[str, Any]) -> dict[str, Any]:
    """Check each filter of the population by its type; 422 naming the filter otherwise.
    A filter given as null is no filter."""
    allowed = FILTERS.get(population, {})
    unknown = sorted(set(filters) - set(allowed))
    if unknown:
        raise InvalidError(
            f"Unknown filters for {population}: {', '.join(unknown)}.",
            code="spotcheck.filters_invalid",
            title="抽查筛选条件无效",
            errors=_field("filters", f"allowed: {', '.join(sorted(allowed))}"),
        )
    parsed: dict[str, Any] = {}
    errors = []
    for name, value in filters.items():
        if value is None:
            continue
        parse, expected = allowed[name]
        try:
            parsed[name] = parse(value)
        except (TypeError, ValueError):
            errors.append({"field": f"filters.{name}", "message": expected})
    if errors:
        names = ", ".join(e["field"].removeprefix("filters.") for e in errors)
        raise InvalidError(
            f"Filters with a value that is not valid: {names}; see errors.",
            code="spotcheck.filters_invalid",
            title="抽查筛选条件无效",
            errors=errors,
        )
    return parsed


def _completed_orders(filters: dict[str, Any]) -> Any:
    """Completed orders; a completion day from and to (Beijing time, both included),
    a supplier, and a category (orders with a line in it)."""
    query = select(cast(PurchaseOrder.id, String)).where(PurchaseOrder.status == "completed")
    first, last = filters.get("completed_from"), filters.get("completed_to")
    if first is not None:
        query = query.where(
            PurchaseOrder.status_changed_at
            >= dt.datetime.combine(first, dt.time(), SHANGHAI).astimezone(dt.UTC)
        )
    if last is not None:
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI)
        query = query.where(PurchaseOrder.status_changed_at < end.astimezone(dt.UTC))
    supplier_id = filters.get("supplier_id")
    if supplier_id is not None:
        query = query.where(PurchaseOrder.supplier_org_id == supplier_id)
    category = filters.get("category_prefix")
    if category is not None:
        query = query.where(
            exists().where(
                OrderLine.order_id == PurchaseOrder.id,
                OrderLine.category_code.startswith(category),
            )
        )
    return query


async def define(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    population: str,
    filters: dict[str, Any],
    sample_size: int,
    inspector_count: int,
    inspector_pool: list[uuid.UUID] | None,
    seed_sha256: str,
    reveal_after: dt.datetime | None = None,
) -> SpotCheck:
    """Commit to a seed and a reveal time, and snapshot the population and inspectors."""
    parsed = parse_filters(population, filters)
    now = _now()
    if reveal_after is None:
        reveal_after = now + MIN_REVEAL_DELAY
    elif reveal_after.tzinfo is None:
        raise InvalidError(
            "reveal_after needs a time zone.",
            code="spotcheck.reveal_time_invalid",
            title="公布时间无效",
            errors=_field("reveal_after", "a time with its offset, e.g. +08:00"),
        )
    elif not now + MIN_REVEAL_DELAY <= reveal_after <= now + MAX_REVEAL_DELAY:
        raise InvalidError(
            "The reveal time must be at least an hour and at most a year after now.",
            code="spotcheck.reveal_time_invalid",
            title="公布时间须在发起抽查至少1小时之后、1年之内",
            errors=_field("reveal_after", "from 1 hour to 366 days after now"),
        )
    ids = draw.normalise(await _population(session, population, parsed))
    pool_query = (
        select(cast(User.id, String))
        .join(Organisation, Organisation.id == User.org_id)
        .where(User.is_active.is_(True), Organisation.kind == OrgKind.REGULATOR.value)
    )
    if inspector_pool:
        pool_query = pool_query.where(User.id.in_(inspector_pool))
    else:
        pool_query = pool_query.where(User.org_id == principal.org_id)
    pool = draw.normalise((await session.scalars(pool_query)).all())
    errors = []
    if inspector_pool and len(pool) != len(set(inspector_pool)):
        errors.append({"field": "inspector_pool", "message": "not all are active regulator users"})
    if sample_size > len(ids):
        errors.append(
            {"field": "sample_size", "message": f"larger than the population ({len(ids)})"}
        )
    if inspector_count > len(pool):
        errors.append(
            {"field": "inspector_count", "message": f"larger than the pool ({len(pool)})"}
        )
    if errors:
        raise InvalidError(
            "The draw cannot be made as defined; see errors.",
            code="spotcheck.draw_invalid",
            title="抽查设置无效",
            errors=errors,
        )
    check = SpotCheck(
        name=name.strip(),
        population=population,
        filters=filters,
        sample_size=sample_size,
        inspector_count=inspector_count,
        population_ids=ids,
        population_sha256=draw.digest(ids),
        inspector_pool=pool,
        inspector_pool_sha256=draw.digest(pool),
        seed_sha256=seed_sha256.lower(),
        reveal_after=reveal_after,
        created_at=now,  # the commitment's time, from which the delay counts
        status="committed",
        created_by=principal.user_id,
        regulator_org_id=principal.org_id,
    )
    session.add(check)
    await session.flush()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="spot_check.defined",
        subject_type=SUBJECT,
        subject_id=check.id,
        after={
            "population": population,
            "filters": filters,
            "population_size": len(ids),
            "population_sha256": check.population_sha256,
            "inspector_pool_sha256": check.inspector_pool_sha256,
            "seed_sha256": check.seed_sha256,
            "reveal_after": reveal_after,
            "sample_size": sample_size,
        },
    )
    return check


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def beacon_at(
    session: AsyncSession, moment: dt.datetime, regulator_org_id: uuid.UUID
) -> tuple[int, str]:
    """The audit chain's head at ``moment`` as others made it: the id and hash of
    the last event recorded before it by anyone but the regulator's organisation
    ((0, 64 zeros) when there is none). The regulator knows its seed, so its own
    last-minute events could otherwise be repeated until the draw suits it.

    Read under the audit chain's lock: every transaction that appended before
    has committed, and every later append records a time after ``moment``, so
    the answer never changes once ``moment`` has passed."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    row = (
        await session.execute(
            text(
                "SELECT id, hash FROM audit_event WHERE occurred_at < :moment"
                " AND actor_org_id IS DISTINCT FROM :org ORDER BY id DESC LIMIT 1"
            ),
            {"moment": moment, "org": regulator_org_id},
        )
    ).one_or_none()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


async def get(session: AsyncSession, check_id: uuid.UUID, *, lock: bool = False) -> SpotCheck:
    query = select(SpotCheck).where(SpotCheck.id == check_id)
    if lock:
        query = query.with_for_update()
    check = (await session.scalars(query)).one_or_none()
    if check is None:
        raise NotFoundError("No such spot check.", code="spotcheck.not_found", title="未找到该抽查")
    return check


async def reveal(
    session: AsyncSession, principal: Principal, check_id: uuid.UUID, seed: str
) -> SpotCheck:
    """Publish the seed; it must match the commitment. Then draw."""
    check = await get(session, check_id, lock=True)
    if check.regulator_org_id != principal.org_id:
        raise ForbiddenError(
            "Only the regulator that defined the draw reveals it.",
            title="仅发起抽查的监管部门可公布种子",
        )
    if check.status != "committed":
        raise ConflictError(
            "The seed is revealed already.",
            code="spotcheck.state",
            title="种子已公布",
            current_status=check.status,
        )
    if draw.commitment(seed) != check.seed_sha256:
        raise InvalidError(
            "The seed does not match the published SHA-256.",
            code="spotcheck.seed_mismatch",
            title="种子与已公布的哈希值不符",
            errors=_field("seed", "SHA-256 differs from seed_sha256"),
        )
    now = _now()
    if check.reveal_after is not None and now < check.reveal_after:
        raise ConflictError(
            f"The seed may be revealed from {check.reveal_after.isoformat()}, as committed.",
            code="spotcheck.reveal_too_early",
            title="未到抽查承诺的公布时间",
            reveal_after=check.reveal_after.isoformat(),
        )
    if check.reveal_after is not None:
        check.beacon_audit_id, check.beacon_hash = await beacon_at(
            session, check.reveal_after, check.regulator_org_id
        )
    key = draw.draw_key(seed, check.beacon_hash)
    items = draw.draw(key, check.population_ids, check.sample_size)
    inspectors = draw.draw(key, check.inspector_pool, check.inspector_count, label="inspector")
    for rank, (item_id, inspector) in enumerate(draw.assign(items, inspectors)):
        session.add(
            SpotCheckItem(
                spot_check_id=check.id,
                rank=rank,
                subject_id=item_id,
                inspector_user_id=uuid.UUID(inspector),
            )
        )
    check.seed, check.status, check.revealed_at = seed, "revealed", now
    await session.flush()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="spot_check.revealed",
        subject_type=SUBJECT,
        subject_id=check.id,
        after={
            "seed": seed,
            "beacon_audit_id": check.beacon_audit_id,
            "beacon_hash": check.beacon_hash,
            "items": items,
            "inspectors": inspectors,
        },
    )
    return check


async def items_of(session: AsyncSession, check_id: uuid.UUID) -> Sequence[SpotCheckItem]:
    return (
        await session.scalars(
            select(SpotCheckItem)
            .where(SpotCheckItem.spot_check_id == check_id)
            .order_by(SpotCheckItem.rank)
        )
    ).all()


async def record_finding(
    session: AsyncSession,
    principal: Principal,
    check_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    finding: str,
    note: str,
) -> SpotCheckItem:
    """The drawn inspector records what the inspection of one item found."""
    check = await get(session, check_id, lock=True)
    item = (
        await session.scalars(
            select(SpotCheckItem)
            .where(SpotCheckItem.id == item_id, SpotCheckItem.spot_check_id == check.id)
            .with_for_update()
        )
    ).one_or_none()
    if item is None:
        raise NotFoundError(
            "No such item in this spot check.",
            code="spotcheck.item_not_found",
            title="未找到该抽查对象",
        )
    if item.inspector_user_id != principal.user_id:
        raise ForbiddenError(
            "Only the inspector drawn for this item records its finding.",
            title="仅抽中的检查人员可录入检查结果",
        )
    if check.status != "revealed" or item.finding is not None:
        raise ConflictError(
            "The finding is recorded already.",
            code="spotcheck.state",
            title="检查结果已录入",
            current_status=check.status,
        )
    now = dt.datetime.now(dt.UTC)
    item.finding, item.note, item.recorded_at = finding, note, now
    await session.flush()
    remaining = await session.scalar(
        select(func.count())
        .select_from(SpotCheckItem)
        .where(SpotCheckItem.spot_check_id == check.id, SpotCheckItem.finding.is_(None))
    )
    if remaining == 0:
        check.status, check.completed_at = "completed", now
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="spot_check.finding_recorded",
        subject_type=SUBJECT,
        subject_id=check.id,
        after={"item_id": item.id, "subject_id": item.subject_id, "finding": finding},
        note=note or None,
    )
    return item


async def listing(session: AsyncSession, limit: int, offset: int) -> Sequence[SpotCheck]:
    return (
        await session.scalars(
            select(SpotCheck).order_by(SpotCheck.created_at.desc()).limit(limit).offset(offset)
        )
    ).all()
