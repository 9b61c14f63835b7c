"""Each rule, table-driven, on frozen facts (no database)."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review_rules import (
    DEFAULT_RULESET,
    RULE_ERROR,
    RULES,
    AttributeSpec,
    CategorySpec,
    ImageFacts,
    ImageReuse,
    ListingFacts,
    MarketFacts,
    Outcome,
    Ruleset,
    Severity,
    SupplierFacts,
    evaluate,
    normalise_model,
    outcome_of,
)
from review_rules.registry import Hit, rule

DESKTOP = CategorySpec(
    code="A02010104",
    name_zh="台式计算机",
    attributes=(
        AttributeSpec("CPU型号", "text", required=True),
        AttributeSpec(
            "内存容量", "number", unit="GB", required=True, min=Decimal("4"), max=Decimal("512")
        ),
        AttributeSpec("操作系统", "enum", allowed_values=("国产操作系统", "Windows", "无")),
        AttributeSpec("含显示器", "bool"),
        AttributeSpec("能效等级", "text", pattern=r"[1-3]级"),
    ),
    energy_cert_mandatory=True,
    usual_units=frozenset({"台", "套"}),
    price_tolerance_pct=Decimal("5"),
)

GOOD = ListingFacts(
    listing_id="L1",
    title="联想 Lenovo 启天M437 台式计算机 i5-12500/16G/512G SSD",
    brand="联想",
    brand_aliases=("Lenovo",),
    model="启天M437",
    category=DESKTOP,
    attributes={
        "CPU型号": "i5-12500",
        "内存容量": 16,
        "操作系统": "国产操作系统",
        "含显示器": True,
        "能效等级": "1级",
    },
    price=Decimal("4599.00"),
    unit="台",
    supplier=SupplierFacts("S1", "active", granted_categories=frozenset({"A0201"})),
    images=(ImageFacts(1000, 1000, "ffd8000000000000", 0.98),),
    market=MarketFacts(
        band="ok", baseline=Decimal("4500.00"), deviation_pct=Decimal("2.20"), observations=3
    ),
    energy_cert_no="CQC20231234567",
)


ABOVE = MarketFacts("above_market", Decimal("4500.00"), Decimal("6.67"), Decimal("5"), 3)


def change(**fields: object) -> ListingFacts:
    return dataclasses.replace(GOOD, **fields)


def rule_ids(facts: ListingFacts, ruleset: Ruleset = DEFAULT_RULESET) -> set[str]:
    return {f.rule_id for f in evaluate(facts, ruleset).findings}


def test_a_conforming_listing_is_approved() -> None:
    decision = evaluate(GOOD)
    assert decision.outcome is Outcome.APPROVED, decision.findings
    assert decision.findings == ()
    assert decision.ruleset_version == DEFAULT_RULESET.version


CASES = [
    # (rule expected, change, why)
    (
        "SUPPLIER.NOT_ACTIVE",
        {"supplier": SupplierFacts("S1", "suspended", all_categories=True)},
        "suspended",
    ),
    (
        "SUPPLIER.CATEGORY_NOT_GRANTED",
        {"supplier": SupplierFacts("S1", "active", granted_categories=frozenset({"A0202"}))},
        "other branch",
    ),
    (
        "SUPPLIER.DOCUMENT_EXPIRED",
        {
            "supplier": SupplierFacts(
                "S1", "active", all_categories=True, blocking_documents=("tax_payment_proof",)
            )
        },
        "tax proof expired",
    ),
    ("TITLE.LENGTH", {"title": "联想台式机"}, "too short"),
    ("TITLE.LENGTH", {"title": "联想 启天M437 " + "高性能" * 30}, "too long"),
    (
        "TITLE.ABSOLUTE_TERM",
        {"title": "联想 启天M437 全网最低价 台式计算机 i5"},
        "全网最低 / 最低价",
    ),
    ("TITLE.ABSOLUTE_TERM", {"title": "联想 启天M437 国家级 台式计算机 i5/16G"}, "国家级"),
    ("TITLE.ABSOLUTE_TERM", {"title": "联想 启天M437 最佳办公台式计算机 i5/16G"}, "最佳"),
    ("TITLE.ABSOLUTE_TERM", {"title": "联想 启天M437 台式计算机 顶级配置 i5/16G"}, "顶级"),
    ("TITLE.ABSOLUTE_TERM", {"title": "联想 启天M437 销量第一 台式计算机 i5/16G"}, "第一"),
    (
        "TITLE.ABSOLUTE_TERM",
        {"title": "联想 启天M437 最高级 台式计算机 i5/16G"},
        "最高级 though 最高 is ordinary",
    ),
    ("TITLE.CONTACT_INFO", {"title": "联想 启天M437 台式计算机 订购电话13800471234"}, "mobile"),
    ("TITLE.CONTACT_INFO", {"title": "联想 启天M437 台式计算机 咨询0471-6543210"}, "landline"),
    ("TITLE.CONTACT_INFO", {"title": "联想 启天M437 台式计算机 www.shop-example.com"}, "url"),
    ("TITLE.CONTACT_INFO", {"title": "联想 启天M437 台式计算机 加微信 lenovo_bt2026"}, "wechat"),
    ("TITLE.CONTACT_INFO", {"title": "联想 启天M437 台式计算机 QQ:12345678"}, "qq"),
    ("TITLE.BRAND_MODEL_MISSING", {"title": "启天M437 台式计算机 i5-12500/16G/512G"}, "no brand"),
    ("TITLE.BRAND_MODEL_MISSING", {"title": "联想 台式计算机 i5-12500/16G/512G SSD"}, "no model"),
    ("ATTR.MISSING_REQUIRED", {"attributes": {"内存容量": 16}}, "no CPU"),
    ("ATTR.MISSING_REQUIRED", {"attributes": {"CPU型号": "  ", "内存容量": 16}}, "blank CPU"),
    ("ATTR.INVALID_VALUE", {"attributes": {**GOOD.attributes, "内存容量": "十六"}}, "not a number"),
    ("ATTR.INVALID_VALUE", {"attributes": {**GOOD.attributes, "内存容量": 2}}, "below minimum"),
    ("ATTR.INVALID_VALUE", {"attributes": {**GOOD.attributes, "操作系统": "Linux"}}, "not allowed"),
    ("ATTR.INVALID_VALUE", {"attributes": {**GOOD.attributes, "含显示器": "是"}}, "bool as text"),
    ("ATTR.INVALID_VALUE", {"attributes": {**GOOD.attributes, "能效等级": "一级"}}, "pattern"),
    ("IMAGE.NONE", {"images": ()}, "no image"),
    ("IMAGE.TOO_SMALL", {"images": (ImageFacts(640, 1000, None, 0.99),)}, "640 px"),
    (
        "IMAGE.BACKGROUND_NOT_WHITE",
        {"images": (ImageFacts(1000, 1000, None, 0.42),)},
        "dark border",
    ),
    (
        "IMAGE.REUSED_FROM_OTHER_SUPPLIER",
        {"reused_images": (ImageReuse("S9", "L77", 3),)},
        "near copy",
    ),
    ("LISTING.DUPLICATE", {"duplicates_of": ("L0",)}, "重复铺货"),
    ("PRICE.ABOVE_MARKET", {"market": ABOVE}, "6.67% above with 5% tolerance"),
    (
        "PRICE.ABNORMALLY_LOW",
        {"market": MarketFacts("abnormally_low", Decimal("4500"), Decimal("-33.36"))},
        "33% below",
    ),
    ("PRICE.NO_BASELINE", {"market": MarketFacts()}, "no baseline"),
    (
        "PRICE.NO_BASELINE",
        {"market": MarketFacts("stale_baseline", Decimal("4500"))},
        "stale baseline",
    ),
    ("POLICY.ENERGY_CERT_MISSING", {"energy_cert_no": None}, "certificate missing"),
    ("UNIT.UNUSUAL", {"unit": "包"}, "a bag of computers"),
]


@pytest.mark.parametrize(("rule_id", "fields", "why"), CASES)
def test_each_rule_fires(rule_id: str, fields: dict[str, object], why: str) -> None:
    decision = evaluate(change(**fields))
    found = [f for f in decision.findings if f.rule_id == rule_id]
    assert found, (why, decision.findings)
    finding = found[0]
    assert finding.severity is RULES[rule_id].severity
    assert finding.message_zh and finding.message_en and finding.field
    expected = {Severity.BLOCK: Outcome.REJECTED, Severity.REVIEW: Outcome.MANUAL_REVIEW}
    if finding.severity in expected:
        assert (
            decision.outcome is expected[finding.severity] or decision.outcome is Outcome.REJECTED
        )


@pytest.mark.parametrize(
    "title",
    [
        "联想 启天M437 最新款 台式计算机 i5/16G",  # 最新: latest, not a claim
        "联想 启天M437 台式计算机 最大支持64G内存",  # 最大: a specification
        "联想 启天M437 第一代 台式计算机 i5/16G",  # 第一代: first generation
        "联想 启天M437 台式计算机 最高主频4.6GHz",  # 最高: a specification
        "联想 启天M437 台式计算机 型号M437 2026款",  # digits that are not a phone
        "联想 启天M437 台式计算机 序列号 12345678901234",  # a long number, not a mobile
    ],
)
def test_ordinary_words_do_not_trip_title_rules(title: str) -> None:
    ids = rule_ids(change(title=title))
    assert "TITLE.ABSOLUTE_TERM" not in ids and "TITLE.CONTACT_INFO" not in ids, title


def test_brand_alias_and_model_spelling() -> None:
    assert "TITLE.BRAND_MODEL_MISSING" not in rule_ids(
        change(title="Lenovo 启天 M437 台式计算机 i5-12500/16G")
    )
    assert normalise_model("HP LaserJet Pro M404dn") == "hplaserjetprom404dn"
    assert (
        normalise_model("M404 dn")
        == normalise_model("m404-dn")
        == normalise_model("Ｍ４０４ＤＮ")
        == "m404dn"
    )


def test_price_rules_follow_the_price_monitors_band() -> None:
    # The thresholds are the price monitor's (tests/pricing_monitor); the rules read its band.
    assert not {"PRICE.ABOVE_MARKET", "PRICE.ABNORMALLY_LOW", "PRICE.NO_BASELINE"} & rule_ids(GOOD)
    [finding] = [
        f for f in evaluate(change(market=ABOVE)).findings if f.rule_id == "PRICE.ABOVE_MARKET"
    ]
    assert "baseline=4500.00" in finding.evidence and "6.67%" in finding.message_en


def test_granted_parent_category_covers_children() -> None:
    supplier = SupplierFacts("S1", "active", granted_categories=frozenset({"A02"}))
    assert "SUPPLIER.CATEGORY_NOT_GRANTED" not in rule_ids(change(supplier=supplier))


def test_own_images_are_not_reuse() -> None:
    assert "IMAGE.REUSED_FROM_OTHER_SUPPLIER" not in rule_ids(
        change(reused_images=(ImageReuse("S1", "L2", 0),))
    )
    assert "IMAGE.REUSED_FROM_OTHER_SUPPLIER" not in rule_ids(
        change(reused_images=(ImageReuse("S9", "L2", 20),))
    )


def test_ruleset_disables_and_reweights() -> None:
    facts = change(unit="包", market=ABOVE)
    assert evaluate(facts).outcome is Outcome.REJECTED
    relaxed = Ruleset.from_dict(
        {
            "version": "relaxed-1",
            "severities": {"PRICE.ABOVE_MARKET": "review"},
            "enabled": sorted(set(RULES) - {"UNIT.UNUSUAL"}),
        }
    )
    decision = evaluate(facts, relaxed)
    assert decision.outcome is Outcome.MANUAL_REVIEW and decision.ruleset_version == "relaxed-1"
    assert "UNIT.UNUSUAL" not in {f.rule_id for f in decision.findings}
    assert Ruleset.from_dict(relaxed.to_dict()) == relaxed
    with pytest.raises(ValueError, match="unknown"):
        Ruleset.from_dict({"no_such_setting": 1})


def test_a_crashing_rule_sends_to_a_person() -> None:
    @rule("TEST.CRASH", Severity.BLOCK)
    def crash(facts, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")
        yield Hit("x", "", "", "")  # pragma: no cover

    try:
        decision = evaluate(GOOD)
        assert decision.outcome is Outcome.MANUAL_REVIEW
        [error] = [f for f in decision.findings if f.rule_id == RULE_ERROR]
        assert error.field == "TEST.CRASH" and "boom" in error.evidence
    finally:
        del RULES["TEST.CRASH"]


def test_rule_ids_are_unique() -> None:
    with pytest.raises(ValueError, match="twice"):
        rule("TITLE.LENGTH", Severity.BLOCK)(lambda facts, ctx: ())


texts = st.text(max_size=80)
facts_strategy = st.builds(
    ListingFacts,
    listing_id=st.just("L"),
    title=texts,
    brand=st.text(max_size=10),
    model=st.text(max_size=12),
    category=st.just(DESKTOP),
    attributes=st.dictionaries(
        st.sampled_from([a.name for a in DESKTOP.attributes] + ["其他"]),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8)
        ),
    ),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2),
    unit=st.sampled_from(["台", "个", "包", ""]),
    supplier=st.builds(
        SupplierFacts,
        supplier_id=st.just("S1"),
        status=st.sampled_from(["active", "suspended"]),
        all_categories=st.booleans(),
    ),
    images=st.lists(
        st.builds(
            ImageFacts,
            width=st.integers(1, 5000),
            height=st.integers(1, 5000),
            phash=st.none(),
            border_whiteness=st.one_of(st.none(), st.floats(0, 1)),
        ),
        max_size=3,
    ).map(tuple),
    market=st.builds(
        MarketFacts,
        band=st.sampled_from(
            ["ok", "above_market", "abnormally_low", "no_baseline", "stale_baseline"]
        ),
        baseline=st.one_of(
            st.none(), st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=2)
        ),
        deviation_pct=st.one_of(st.none(), st.decimals(min_value=-100, max_value=1000, places=2)),
        observations=st.integers(0, 5),
    ),
    energy_cert_no=st.one_of(st.none(), st.text(max_size=12)),
)


@settings(max_examples=400, deadline=None)
@given(facts=facts_strategy)
def test_the_engine_never_raises_and_the_outcome_follows_the_findings(facts: ListingFacts) -> None:
    decision = evaluate(facts)
    assert RULE_ERROR not in {f.rule_id for f in decision.findings}, decision.findings
    assert decision.outcome is outcome_of(decision.findings)
    assert evaluate(facts) == decision  # a function of the facts


# ---------------------------------------------------------------- folded spellings


@pytest.mark.parametrize(
    ("title", "term", "quoted"),
    [
        ("联想 启天M437 國家級 台式计算机 节能", "国家级", "國家級"),
        ("联想 启天M437 国\u200b家\u200d级 台式计算机", "国家级", "国\u200b家\u200d级"),
        ("联想 启天M437 台式计算机 最\ufeff佳选择", "最佳", "最\ufeff佳"),
        ("联想 启天M437 台式计算机 好评１００％", "100%", "１００％"),
        ("联想 启天M437 台式計算機 頂級配置", "顶级", "頂級"),
    ],
)
def test_absolute_terms_are_found_in_any_spelling(title: str, term: str, quoted: str) -> None:
    [finding] = [f for f in evaluate(change(title=title)).findings if f.severity is Severity.BLOCK]
    assert finding.rule_id == "TITLE.ABSOLUTE_TERM"
    assert term in finding.message_zh and term in finding.message_en
    assert quoted in finding.evidence.split(",")  # what the supplier wrote


@pytest.mark.parametrize(
    ("title", "quoted"),
    [
        ("联想 启天M437 台式计算机 电话139 0472 0001", "139 0472 0001"),
        ("联想 启天M437 台式计算机 电话139-0472-0001", "139-0472-0001"),
        ("联想 启天M437 台式计算机 电话１３９０４７２０００１", "１３９０４７２０００１"),
        ("联想 启天M437 台式计算机 电话1\u200b3904720001", "1\u200b3904720001"),
        ("联想 启天M437 台式计算机 0471 - 6543210", "0471 - 6543210"),
    ],
)
def test_phone_numbers_are_found_across_separators(title: str, quoted: str) -> None:
    [finding] = [f for f in evaluate(change(title=title)).findings if f.severity is Severity.BLOCK]
    assert finding.rule_id == "TITLE.CONTACT_INFO"
    assert finding.evidence == quoted


def test_specifications_with_separated_digits_are_not_phone_numbers() -> None:
    for title in (
        "联想 启天M437 台式计算机 i5-12500/16G/512G SSD",
        "联想 启天M437 台式计算机 23.8英寸 1920×1080",
        "联想 启天M437 台式计算机 2024 款 3 年保修",
    ):
        assert evaluate(change(title=title)).findings == (), title


def test_ordinary_words_still_cover_terms_in_traditional_script() -> None:
    assert evaluate(change(title="联想 启天M437 台式计算机 最新款 第一代")).findings == ()
    assert evaluate(change(title="联想 启天M437 台式計算機 最新款 第一代")).findings == ()


def test_supplier_status_is_named_in_each_language() -> None:
    [finding] = evaluate(
        change(supplier=SupplierFacts("S1", "pending", all_categories=True))
    ).findings
    assert finding.evidence == "pending"
    assert "pending" not in finding.message_zh and "待审核" in finding.message_zh
    assert "awaiting verification" in finding.message_en


def test_a_reused_image_finding_does_not_name_the_other_listing() -> None:
    facts = change(reused_images=(ImageReuse("S2", "L-OTHER-SUPPLIER", 2),))
    [finding] = evaluate(facts).findings
    assert finding.rule_id == "IMAGE.REUSED_FROM_OTHER_SUPPLIER"
    assert "L-OTHER-SUPPLIER" not in f"{finding.evidence}{finding.message_zh}{finding.message_en}"
    assert "another supplier" in finding.message_en


def _has_latin_letters(text: str) -> bool:
    return any("a" <= c.lower() <= "z" for c in text)


def test_every_message_speaks_its_language() -> None:
    """Chinese messages carry no English words and English ones no Chinese,
    except the values quoted from the listing (its title, brand, model, unit,
    attributes, category) and the evidence."""
    samples = [change(**changes) for _, changes, _ in CASES]
    samples.append(change(supplier=SupplierFacts("S1", "expelled", all_categories=True)))
    for facts in samples:
        for finding in evaluate(facts).findings:
            quoted = [facts.brand, facts.model, facts.unit, facts.category.code, facts.title]
            quoted += [str(v) for v in facts.attributes.values()]
            quoted += [a.name for a in facts.category.attributes]
            quoted += [v for a in facts.category.attributes for v in a.allowed_values]
            quoted += re.split(r"[,:= ]", finding.evidence)
            zh, en = finding.message_zh, finding.message_en
            for value in sorted((q for q in quoted if q), key=len, reverse=True):
                zh, en = zh.replace(value, ""), en.replace(value, "")
            assert not re.search(r"[A-Za-z]{2,}", zh), finding
            assert not re.search(r"[\u4e00-\u9fff]", en), finding
