"""Assessing one price against its baseline (pure; the review's PRICE.* rules
and the price scan both use it)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pricing_monitor.policy import Baseline, BaselinePolicy

BANDS = ("ok", "above_market", "abnormally_low", "no_baseline", "stale_baseline")


@dataclass(frozen=True, slots=True)
class Assessment:
    band: str
    deviation_pct: Decimal | None  # (price - baseline) / baseline, in percent
    baseline: Baseline


def assess(
    price: Decimal,
    baseline: Baseline,
    policy: BaselinePolicy,
    abnormally_low_pct: Decimal = Decimal("30"),
) -> Assessment:
    if baseline.price is None:
        band = "stale_baseline" if baseline.status == "stale" else "no_baseline"
        return Assessment(band, None, baseline)
    deviation = ((price - baseline.price) / baseline.price * 100).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    if deviation > policy.tolerance_pct:
        band = "above_market"
    elif deviation < -abnormally_low_pct:
        band = "abnormally_low"
    else:
        band = "ok"
    return Assessment(band, deviation, baseline)
