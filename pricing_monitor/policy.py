"""Baseline policies (pure): which observations count and how they combine.

Provincial rules differ: Zhejiang takes the lowest same-period price of large
platforms' self-operated offers, Qinghai and Shanghai the average; a
framework agreement sets a cap; a manufacturer's official price is a ceiling.
A policy is data per category; the default is the issue's: self-operated
e-commerce observations of the last 30 days, minimum, tolerance 0%.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any


class ObservationSource(StrEnum):
    """Where a market price was seen."""

    ECOMMERCE = "ecommerce"  # an e-commerce platform (JD, Tmall, Suning ...)
    MANUFACTURER = "manufacturer"  # the manufacturer's official price
    FRAMEWORK_CAP = "framework_cap"  # the cap of a framework agreement
    MALL_TRANSACTIONS = "mall_transactions"  # prices paid in this mall


SOURCES = tuple(s.value for s in ObservationSource)
AGGREGATES = ("min", "mean", "median")
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Observation:
    source: str
    platform: str
    self_operated: bool
    price: Decimal
    observed_at: dt.datetime
    url: str = ""


@dataclass(frozen=True)
class BaselinePolicy:
    sources: frozenset[str] = frozenset({"ecommerce"})
    self_operated_only: bool = True
    aggregate: str = "min"
    freshness_days: int = 30
    tolerance_pct: Decimal = Decimal("0")
    min_observations: int = 1

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}")
        if not self.sources or not self.sources <= set(SOURCES):
            raise ValueError(f"sources must be among {', '.join(SOURCES)}")
        if self.freshness_days < 1 or self.min_observations < 1 or self.tolerance_pct < 0:
            raise ValueError(
                "freshness_days and min_observations must be positive, tolerance not negative"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BaselinePolicy:
        if not data:
            return cls()
        values = dict(data)
        if "sources" in values:
            values["sources"] = frozenset(values["sources"])
        if "tolerance_pct" in values:
            values["tolerance_pct"] = Decimal(str(values["tolerance_pct"]))
        return cls(**values)


DEFAULT_POLICY = BaselinePolicy()
DEFAULT_POLICY_KEY = "default"


def policy_key(settings: dict[str, Any] | None) -> str:
    """A short stable name for a category's baseline policy (tolerance aside):
    baselines are stored once per product and policy."""
    if not settings:
        return DEFAULT_POLICY_KEY
    policy = BaselinePolicy.from_dict(settings)
    if policy == DEFAULT_POLICY:
        return DEFAULT_POLICY_KEY
    text = "|".join(
        [
            ",".join(sorted(policy.sources)),
            str(policy.self_operated_only),
            policy.aggregate,
            str(policy.freshness_days),
            str(policy.min_observations),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Baseline:
    price: Decimal | None
    status: str  # ok | stale | too_few | none
    used: tuple[Observation, ...] = field(default=())


def compute_baseline(
    observations: Iterable[Observation], policy: BaselinePolicy, now: dt.datetime
) -> Baseline:
    """The baseline and the observations it rests on.

    ``none``: nothing of the counted sources; ``stale``: only older than the
    freshness window (the newest stale price is kept as evidence);
    ``too_few``: fresh, but fewer than the policy's minimum.
    """
    eligible = [
        o
        for o in observations
        if o.source in policy.sources
        and (o.self_operated or not policy.self_operated_only or o.source != "ecommerce")
        and o.observed_at <= now
    ]
    if not eligible:
        return Baseline(None, "none")
    since = now - dt.timedelta(days=policy.freshness_days)
    fresh = [o for o in eligible if o.observed_at >= since]
    if not fresh:
        newest = max(eligible, key=lambda o: o.observed_at)
        return Baseline(None, "stale", (newest,))
    # One observation per platform and source: the most recent.
    latest: dict[tuple[str, str], Observation] = {}
    for o in sorted(fresh, key=lambda o: o.observed_at):
        latest[(o.source, o.platform)] = o
    used = tuple(sorted(latest.values(), key=lambda o: (o.price, o.platform)))
    if len(used) < policy.min_observations:
        return Baseline(None, "too_few", used)
    prices = [o.price for o in used]
    if policy.aggregate == "min":
        value = min(prices)
    elif policy.aggregate == "mean":
        value = sum(prices, Decimal(0)) / len(prices)
    else:
        value = Decimal(statistics.median(prices))
    return Baseline(value.quantize(CENT, rounding=ROUND_HALF_UP), "ok", used)
