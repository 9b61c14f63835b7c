"""Identity, baseline policies and assessment (pure, table-driven)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pricing_monitor import (
    DEFAULT_POLICY,
    BaselinePolicy,
    BrandAliases,
    Observation,
    assess,
    compute_baseline,
    identity_of,
    normalise_model,
    same_product,
)

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
ALIASES = BrandAliases.from_groups(
    [("得力", "deli"), ("惠普", "HP", "hewlett-packard"), ("联想", "Lenovo")]
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("得力", "DL-3350", None), ("deli", "dl3350", None), True),
        (("HP", "LaserJet Pro M404dn", None), ("惠普", "laserjet pro m404 dn", None), True),
        (("惠普", "Ｍ４０４ＤＮ", None), ("hp", "m404-dn", None), True),
        (("联想", "启天M437（商用版）", None), ("lenovo", "启天m437商用版", None), True),
        (("联想", "M437", None), ("惠普", "M437", None), False),
        (("联想", "M437", None), ("联想", "M438", None), False),
        (
            ("联想", "M437", "6901234567892"),
            ("联想", "M999", "6901234567892"),
            True,
        ),  # GTIN decides
        (("联想", "M437", "6901234567892"), ("联想", "M437", "6901234567893"), False),
        (("联想", "", None), ("联想", "", None), False),  # no model: never guessed
    ],
)
def test_identity(a, b, same) -> None:
    assert same_product(identity_of(*a, aliases=ALIASES), identity_of(*b, aliases=ALIASES)) is same


def test_model_normalisation() -> None:
    assert (
        normalise_model(" M404 dn ")
        == normalise_model("m404-DN")
        == normalise_model("【M404DN】")
        == "m404dn"
    )


def obs(
    price: str,
    days_ago: float,
    platform: str = "JD",
    *,
    source: str = "ecommerce",
    self_operated: bool = True,
) -> Observation:
    return Observation(
        source, platform, self_operated, Decimal(price), NOW - dt.timedelta(days=days_ago)
    )


OBSERVATIONS = [
    obs("4599", 3, "JD"),
    obs("4499", 5, "Tmall"),
    obs("4699", 1, "Suning"),
    obs("3999", 2, "PDD", self_operated=False),
]


@pytest.mark.parametrize(
    ("policy", "price", "status"),
    [
        (DEFAULT_POLICY, "4499.00", "ok"),  # lowest self-operated (Zhejiang)
        (BaselinePolicy(aggregate="mean"), "4599.00", "ok"),  # average (Qinghai, Shanghai)
        (BaselinePolicy(aggregate="median"), "4599.00", "ok"),
        (BaselinePolicy(self_operated_only=False), "3999.00", "ok"),
        (BaselinePolicy(min_observations=4), None, "too_few"),
        (BaselinePolicy(sources=frozenset({"framework_cap"})), None, "none"),
    ],
)
def test_policies(policy, price, status) -> None:
    baseline = compute_baseline(OBSERVATIONS, policy, NOW)
    assert baseline.status == status
    assert baseline.price == (Decimal(price) if price else None)
    if status == "ok":
        assert baseline.used and all(
            o.self_operated or not policy.self_operated_only for o in baseline.used
        )


def test_stale_and_latest_per_platform() -> None:
    stale = compute_baseline([obs("4599", 45), obs("4499", 60, "Tmall")], DEFAULT_POLICY, NOW)
    assert (
        stale.status == "stale" and stale.price is None and stale.used[0].price == Decimal("4599")
    )
    # JD's newer price replaces its older one.
    latest = compute_baseline([obs("4000", 10, "JD"), obs("4599", 1, "JD")], DEFAULT_POLICY, NOW)
    assert latest.price == Decimal("4599.00") and len(latest.used) == 1
    future = compute_baseline([obs("1", -2)], DEFAULT_POLICY, NOW)
    assert future.status == "none"


def test_framework_cap_and_manufacturer_are_not_self_operated_offers() -> None:
    policy = BaselinePolicy(sources=frozenset({"framework_cap"}))
    cap = compute_baseline(
        [obs("5000", 100, "协议", source="framework_cap", self_operated=False)],
        BaselinePolicy(sources=frozenset({"framework_cap"}), freshness_days=365),
        NOW,
    )
    assert cap.price == Decimal("5000.00")
    assert policy.self_operated_only  # applies to e-commerce offers only


@pytest.mark.parametrize(
    ("price", "tolerance", "band", "deviation"),
    [
        ("4499.00", "0", "ok", "0.00"),
        ("4500.00", "0", "above_market", "0.02"),
        ("4700.00", "5", "ok", "4.47"),
        ("4800.00", "5", "above_market", "6.69"),
        ("3000.00", "0", "abnormally_low", "-33.32"),
    ],
)
def test_assessment_bands(price, tolerance, band, deviation) -> None:
    policy = BaselinePolicy(tolerance_pct=Decimal(tolerance))
    result = assess(Decimal(price), compute_baseline(OBSERVATIONS, policy, NOW), policy)
    assert result.band == band and result.deviation_pct == Decimal(deviation)


def test_assessment_without_baseline() -> None:
    assert (
        assess(Decimal("1"), compute_baseline([], DEFAULT_POLICY, NOW), DEFAULT_POLICY).band
        == "no_baseline"
    )
    stale = compute_baseline([obs("10", 90)], DEFAULT_POLICY, NOW)
    assert assess(Decimal("1"), stale, DEFAULT_POLICY).band == "stale_baseline"


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        BaselinePolicy(aggregate="max")
    with pytest.raises(ValueError):
        BaselinePolicy(sources=frozenset({"rumour"}))
    assert BaselinePolicy.from_dict(
        {"aggregate": "mean", "sources": ["ecommerce"], "tolerance_pct": "5"}
    ).tolerance_pct == Decimal("5")
