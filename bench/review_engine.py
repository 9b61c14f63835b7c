"""The rules engine alone, on one core: listings reviewed per second.

Two measurements over the same 20,000 synthetic listings: the text and
attribute rules (the goal is >= 50,000/s), and every rule. The reference is
what the engine avoids: one search per title with a single regular
expression alternating 300 terms.
"""

from __future__ import annotations

import random
import re
import time
from decimal import Decimal

from bench.common import Result, median
from review_rules import (
    AttributeSpec,
    CategorySpec,
    ImageFacts,
    ListingFacts,
    MarketFacts,
    Ruleset,
    SupplierFacts,
    evaluate,
)
from review_rules.ruleset import ABSOLUTE_TERMS

LISTINGS = 20_000
ROUNDS = 3
TEXT_AND_ATTRIBUTE_RULES = frozenset(
    {
        "TITLE.LENGTH",
        "TITLE.ABSOLUTE_TERM",
        "TITLE.CONTACT_INFO",
        "TITLE.BRAND_MODEL_MISSING",
        "ATTR.MISSING_REQUIRED",
        "ATTR.INVALID_VALUE",
    }
)

CATEGORY = CategorySpec(
    code="A02010104",
    name_zh="台式计算机",
    attributes=(
        AttributeSpec("CPU型号", "text", required=True),
        AttributeSpec(
            "内存容量", "number", unit="GB", required=True, min=Decimal("4"), max=Decimal("512")
        ),
        AttributeSpec("硬盘容量", "number", unit="GB", required=True, min=Decimal("128")),
        AttributeSpec("操作系统", "enum", allowed_values=("国产操作系统", "Windows", "无")),
        AttributeSpec("含显示器", "bool"),
    ),
    energy_cert_mandatory=True,
    usual_units=frozenset({"台"}),
    price_tolerance_pct=Decimal("5"),
)
BRANDS = [
    ("联想", "启天M437"),
    ("惠普", "ProDesk 400 G9"),
    ("戴尔", "OptiPlex 7010"),
    ("华为", "擎云B730"),
]
EXTRAS = [
    "商用办公",
    "全网最低价",
    "最新款",
    "i5-12500/16G/512G",
    "国产化",
    "顶级配置",
    "含23.8英寸显示器",
    "联系13800471234",
]


def listings(n: int) -> list[ListingFacts]:
    rng = random.Random(7)
    supplier = SupplierFacts("S1", "active", all_categories=True)
    result = []
    for i in range(n):
        brand, model = rng.choice(BRANDS)
        title = f"{brand} {model} 台式计算机 {rng.choice(EXTRAS)} {rng.choice(EXTRAS)}"
        result.append(
            ListingFacts(
                listing_id=str(i),
                title=title,
                brand=brand,
                model=model,
                category=CATEGORY,
                attributes={
                    "CPU型号": "i5-12500",
                    "内存容量": rng.choice([8, 16, 2]),
                    "硬盘容量": 512,
                    "操作系统": rng.choice(["国产操作系统", "Linux"]),
                    "含显示器": True,
                },
                price=Decimal(rng.randint(3000, 6000)),
                unit="台",
                supplier=supplier,
                images=(ImageFacts(1000, 1000, None, 0.97),),
                market=MarketFacts(band="ok", baseline=Decimal("4500"), observations=3),
                energy_cert_no="CQC2023",
            )
        )
    return result


def _rate(work, items) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for item in items:
        work(item)
    return len(items) / (time.perf_counter() - started)


def run() -> list[Result]:
    facts = listings(LISTINGS)
    text_only = Ruleset(version="bench-text", enabled=TEXT_AND_ATTRIBUTE_RULES)
    full = Ruleset(version="bench-full")
    # 300 terms: the mall's list padded with plausible variants.
    terms = list(ABSOLUTE_TERMS) + [f"{t}{i}" for i in range(12) for t in ABSOLUTE_TERMS]
    regex = re.compile("|".join(re.escape(t) for t in terms[:300]))
    titles = [f.title for f in facts]
    evaluate(facts[0], text_only), evaluate(facts[0], full)  # build the automata
    text_rates, full_rates, regex_rates = [], [], []
    for _ in range(ROUNDS):
        text_rates.append(_rate(lambda f: evaluate(f, text_only), facts))
        full_rates.append(_rate(lambda f: evaluate(f, full), facts))
        regex_rates.append(_rate(lambda t: regex.findall(t), titles))
    reference = median(regex_rates)
    return [
        Result.of(
            "review_engine_text_attr_rules",
            median(text_rates),
            "lst/s",
            "one regex scan per title, 300 literal terms",
            reference,
        ),
        Result.of(
            "review_engine_all_rules",
            median(full_rates),
            "lst/s",
            "one regex scan per title, 300 literal terms",
            reference,
        ),
    ]
