"""Importing market observations and recomputing baselines (database side)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from pricing_monitor.identity import BrandAliases, normalise_model
from pricing_monitor.models import (
    BrandAlias,
    MarketBaseline,
    MarketBaselineChange,
    PriceObservation,
)
from pricing_monitor.policy import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_KEY,
    SOURCES,
    Baseline,
    BaselinePolicy,
    Observation,
    compute_baseline,
)

COLUMNS = (
    "source",
    "platform",
    "self_operated",
    "brand",
    "model",
    "gtin",
    "platform_sku",
    "price",
    "observed_at",
    "url",
    "evidence_sha256",
)
_TRUE = {"true", "1", "yes", "y", "是"}
CLOCK_SKEW = dt.timedelta(minutes=5)


async def canonical_brands(session: AsyncSession, brands: Iterable[str]) -> dict[str, str]:
    """Folded brand → canonical brand, for the given folded brands (identity when no alias)."""
    wanted = set(brands)
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(BrandAlias.alias, BrandAlias.canonical).where(BrandAlias.alias.in_(wanted))
        )
    ).all()
    found = dict(rows)
    return {b: found.get(b, b) for b in wanted}


async def load_aliases(session: AsyncSession) -> BrandAliases:
    rows = (await session.execute(select(BrandAlias.alias, BrandAlias.canonical))).all()
    return BrandAliases({alias: canonical for alias, canonical in rows})


def rows_from_json_lines(content: str) -> list[dict[str, Any]]:
    """One JSON object per line; a line that is not one becomes an empty (invalid) row."""
    rows: list[dict[str, Any]] = []
    for line in content.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = {}
        rows.append(value if isinstance(value, dict) else {})
    return rows


def rows_from_csv(text: str) -> list[dict[str, Any]]:
    return [dict(row) for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


def _error(row: int, field: str, code: str, message: str) -> dict[str, Any]:
    return {"row": row, "field": field, "code": code, "message": message}


def validate(
    rows: Iterable[dict[str, Any]], aliases: BrandAliases, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows ready to insert, and per-row errors (row numbers start at 1)."""
    valid, errors = [], []
    for number, row in enumerate(rows, start=1):
        problems = []
        source = str(row.get("source") or "").strip()
        if source not in SOURCES:
            problems.append(
                _error(number, "source", "unknown_source", f"one of {', '.join(SOURCES)}")
            )
        brand, model = str(row.get("brand") or "").strip(), str(row.get("model") or "").strip()
        gtin = str(row.get("gtin") or "").strip() or None
        if not gtin and not (brand and model):
            problems.append(
                _error(
                    number, "model", "missing_identity", "brand and model, or a GTIN, are required"
                )
            )
        if gtin and not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
            problems.append(_error(number, "gtin", "invalid", "8, 12, 13 or 14 digits"))
        try:
            price = Decimal(str(row.get("price")))
            if (
                not price.is_finite()
                or price <= 0
                or price >= Decimal("1e10")
                or price != price.quantize(Decimal("0.01"))
            ):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(
                _error(
                    number,
                    "price",
                    "invalid_price",
                    "a positive amount in yuan with at most 2 decimals",
                )
            )
            price = Decimal(0)
        observed_at = row.get("observed_at")
        try:
            moment = (
                observed_at
                if isinstance(observed_at, dt.datetime)
                else dt.datetime.fromisoformat(str(observed_at))
            )
            if moment.tzinfo is None:
                raise ValueError
            if moment > now + CLOCK_SKEW:
                problems.append(
                    _error(number, "observed_at", "in_future", "observed_at is in the future")
                )
        except (TypeError, ValueError):
            problems.append(
                _error(number, "observed_at", "invalid_time", "ISO 8601 with UTC offset")
            )
            moment = now
        if problems:
            errors.extend(problems)
            continue
        platform = str(row.get("platform") or "").strip() or source
        self_operated = row.get("self_operated")
        self_operated = (
            self_operated
            if isinstance(self_operated, bool)
            else str(self_operated or "").strip().lower() in _TRUE
        )
        url = str(row.get("url") or "").strip()[:1000]
        brand_norm, model_norm = aliases.normalise(brand), normalise_model(model)
        identity = "|".join(
            [source, platform, brand_norm, model_norm, gtin or "", str(price), moment.isoformat()]
        )
        valid.append(
            {
                "source": source,
                "platform": platform[:50],
                "self_operated": self_operated,
                "brand": brand[:100],
                "model": model[:100],
                "brand_norm": brand_norm[:100],
                "model_norm": model_norm[:100],
                "gtin": gtin,
                "platform_sku": (str(row.get("platform_sku") or "").strip() or None),
                "price": price,
                "observed_at": moment,
                "url": url,
                "evidence_sha256": str(row.get("evidence_sha256") or "")
                or hashlib.sha256(f"{url}|{identity}".encode()).hexdigest(),
                "dedupe_key": hashlib.sha256(identity.encode()).hexdigest(),
            }
        )
    return valid, errors


async def store(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert new observations; ones seen before are skipped. Returns how many were new."""
    if not rows:
        return 0
    stmt = (
        insert(PriceObservation).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(stmt.returning(PriceObservation.id))
    return len(result.scalars().all())


# A product known by its GTIN alone (an observation with no brand and model) is
# kept under this model key with an empty brand; the scan finds it by GTIN.
GTIN_KEY = "gtin:"


def identity_key(row: dict[str, Any]) -> tuple[str, str] | None:
    """The identity an observation row counts for: brand and model, else its GTIN."""
    if row.get("brand_norm") and row.get("model_norm"):
        return (row["brand_norm"], row["model_norm"])
    if row.get("gtin"):
        return ("", GTIN_KEY + row["gtin"])
    return None


def _observation_filter(brand: str, model: str) -> Any:
    if not brand and model.startswith(GTIN_KEY):
        return PriceObservation.gtin == model.removeprefix(GTIN_KEY)
    return and_(PriceObservation.brand_norm == brand, PriceObservation.model_norm == model)


async def recompute_baselines(
    session: AsyncSession,
    identities: set[tuple[str, str]],
    now: dt.datetime,
    policy: BaselinePolicy = DEFAULT_POLICY,
    *,
    only: dict[str, BaselinePolicy] | None = None,
) -> int:
    """Recompute the stored baselines of each identity (see ``identity_key``).

    Every policy in use is computed, or only the ``only`` ones. Returns how
    many baselines were written.
    """
    if not identities:
        return 0
    policies = only if only is not None else await policies_in_use(session, policy)
    changed = 0
    ordered = sorted(identities)
    for start in range(0, len(ordered), 200):
        chunk = ordered[start : start + 200]
        rows = (
            await session.scalars(
                select(PriceObservation).where(or_(*(_observation_filter(b, m) for b, m in chunk)))
            )
        ).all()
        for brand, model in chunk:
            if not brand and model.startswith(GTIN_KEY):
                gtin = model.removeprefix(GTIN_KEY)
                found = [o for o in rows if o.gtin == gtin]
            else:
                found = [o for o in rows if o.brand_norm == brand and o.model_norm == model]
                gtin = next((o.gtin for o in found if o.gtin), None)
            if not found:
                continue
            seen = [
                Observation(o.source, o.platform, o.self_operated, o.price, o.observed_at, o.url)
                for o in found
            ]
            for key, each in policies.items():
                baseline = compute_baseline(seen, each, now)
                if baseline.price is not None:
                    await _upsert_baseline(session, brand, model, gtin, baseline, key, now)
                    changed += 1
    return changed


async def all_identities(session: AsyncSession) -> set[tuple[str, str]]:
    """Every identity observed: brand and model pairs, and GTIN-only products."""
    pairs = (
        await session.execute(
            text(
                "SELECT DISTINCT brand_norm, model_norm FROM price_observation"
                " WHERE brand_norm <> '' AND model_norm <> ''"
            )
        )
    ).all()
    gtins = (
        await session.execute(
            text(
                "SELECT DISTINCT gtin FROM price_observation"
                " WHERE gtin IS NOT NULL AND (brand_norm = '' OR model_norm = '')"
            )
        )
    ).all()
    return {(b, m) for b, m in pairs} | {("", GTIN_KEY + g) for (g,) in gtins}


async def policies_in_use(
    session: AsyncSession, default: BaselinePolicy = DEFAULT_POLICY
) -> dict[str, BaselinePolicy]:
    """The default policy and every policy a category sets, by key."""
    rows = (
        await session.execute(
            text(
                "SELECT DISTINCT price_policy_key, price_policy FROM category"
                " WHERE price_policy IS NOT NULL"
            )
        )
    ).all()
    policies = {DEFAULT_POLICY_KEY: default}
    for key, settings in rows:
        policies[key] = BaselinePolicy.from_dict(settings)
    return policies


async def _upsert_baseline(
    session: AsyncSession,
    brand: str,
    model: str,
    gtin: str | None,
    baseline: Baseline,
    key: str,
    now: dt.datetime,
) -> None:
    stmt = insert(MarketBaseline).values(
        id=uuid.UUID(str(uuid7())),
        brand_norm=brand,
        model_norm=model,
        policy_key=key,
        gtin=gtin,
        price=baseline.price,
        observations=len(baseline.used),
        source=",".join(sorted({o.platform for o in baseline.used}))[:100],
        computed_at=now,
        created_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["brand_norm", "model_norm", "policy_key"],
        set_={
            "price": stmt.excluded.price,
            "observations": stmt.excluded.observations,
            "source": stmt.excluded.source,
            "computed_at": stmt.excluded.computed_at,
            "gtin": stmt.excluded.gtin,
            "updated_at": now,
        },
    )
    await session.execute(stmt)
    # The baseline's history: a row whenever its value changes.
    last = (
        await session.execute(
            select(MarketBaselineChange.price)
            .where(
                MarketBaselineChange.brand_norm == brand,
                MarketBaselineChange.model_norm == model,
                MarketBaselineChange.policy_key == key,
            )
            .order_by(MarketBaselineChange.computed_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if last != baseline.price:
        session.add(
            MarketBaselineChange(
                brand_norm=brand,
                model_norm=model,
                policy_key=key,
                price=baseline.price,
                observations=len(baseline.used),
                computed_at=now,
            )
        )
