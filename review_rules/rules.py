"""The publishing rules (商品发布规范), one function each.

Every rule looks only at the facts and the ruleset and returns what it found;
the engine turns hits into findings with the rule's id and severity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from review_rules.model import AttributeSpec, ListingFacts, Severity
from review_rules.registry import Context, Hit, rule
from review_rules.text import contact_details, normalise, normalise_model

# What a supplier's status is called, for the messages (the status itself is the evidence).
_STATUS_NAMES = {
    "active": ("正常", "active"),
    "pending": ("待审核", "awaiting verification"),
    "suspended": ("暂停交易", "suspended"),
    "expelled": ("禁入", "barred"),
    "withdrawn": ("已退出", "withdrawn"),
    "rejected": ("未通过审核", "rejected"),
}
_DOCUMENT_NAMES_ZH = {
    "business_licence": "营业执照",
    "financial_report": "财务报告",
    "tax_payment_proof": "纳税证明",
    "social_security_proof": "社保缴纳证明",
}

# ---------------------------------------------------------------- supplier


@rule("SUPPLIER.NOT_ACTIVE", Severity.BLOCK)
def supplier_not_active(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """Only an active supplier may publish."""
    status = facts.supplier.status
    if status != "active":
        name_zh, name_en = _STATUS_NAMES.get(status, ("非正常", "not active"))
        yield Hit(
            "supplier",
            status,
            f"供应商当前状态为“{name_zh}”，不能发布商品",
            f"The supplier is {name_en} and cannot publish.",
        )


@rule("SUPPLIER.CATEGORY_NOT_GRANTED", Severity.BLOCK)
def category_not_granted(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """The supplier must be admitted to the category (or a parent of it)."""
    supplier, code = facts.supplier, facts.category.code
    if supplier.all_categories or any(
        code.startswith(granted) for granted in supplier.granted_categories
    ):
        return
    yield Hit(
        "category_code",
        code,
        f"未获准在品目 {code}（{facts.category.name_zh}）发布商品",
        f"The supplier is not admitted to category {code}.",
    )


@rule("SUPPLIER.DOCUMENT_EXPIRED", Severity.BLOCK)
def document_expired(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """Mandatory qualification documents must be valid (一次提交、全年有效)."""
    kinds = facts.supplier.blocking_documents
    if kinds:
        names = "、".join(_DOCUMENT_NAMES_ZH.get(k, k) for k in kinds)
        yield Hit(
            "supplier",
            ",".join(kinds),
            f"资质文件缺失或已过期：{names}，请更新后再发布",
            "Qualification documents missing or expired: "
            f"{', '.join(k.replace('_', ' ') for k in kinds)}.",
        )


# ---------------------------------------------------------------- title


@rule("TITLE.LENGTH", Severity.BLOCK)
def title_length(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """Titles between the ruleset's minimum and maximum length (characters)."""
    length = len(facts.title.strip())
    low, high = ctx.ruleset.title_min_length, ctx.ruleset.title_max_length
    if not low <= length <= high:
        yield Hit(
            "title",
            str(length),
            f"标题长度应为 {low}–{high} 个字符，当前 {length} 个",
            f"The title must have {low} to {high} characters; it has {length}.",
        )


@rule("TITLE.ABSOLUTE_TERM", Severity.BLOCK)
def absolute_term(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """No absolute or superlative claims (Advertising Law art. 9(3) and the mall's list)."""
    found = ctx.absolute_terms.find_quoted(facts.title)
    if found:
        terms = [term for term, _ in found]
        listed = "、".join(terms)
        yield Hit(
            "title",
            ",".join(quoted for _, quoted in found),
            f"标题含有绝对化用语：{listed}（《广告法》第九条）",
            f"The title makes absolute claims: {', '.join(terms)} (Advertising Law art. 9).",
        )


@rule("TITLE.CONTACT_INFO", Severity.BLOCK)
def contact_info(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """No phone numbers, web addresses or chat ids: trading stays in the mall."""
    found = contact_details(facts.title)
    if found:
        yield Hit(
            "title",
            ",".join(found),
            f"标题不得含有联系方式或网址：{'、'.join(found)}",
            f"The title contains contact details: {', '.join(found)}.",
        )


@rule("TITLE.BRAND_MODEL_MISSING", Severity.REVIEW)
def brand_model_missing(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """The title names the listing's brand (or an alias) and its model."""
    title = normalise(facts.title)
    brands = [normalise(b) for b in (facts.brand, *facts.brand_aliases) if b.strip()]
    if brands and not any(b in title for b in brands):
        yield Hit(
            "title",
            facts.brand,
            f"标题未包含品牌“{facts.brand}”",
            f"The title lacks the brand '{facts.brand}'.",
        )
    model = normalise_model(facts.model)
    if model and model not in normalise_model(facts.title):
        yield Hit(
            "title",
            facts.model,
            f"标题未包含型号“{facts.model}”",
            f"The title lacks the model '{facts.model}'.",
        )


# ---------------------------------------------------------------- attributes


def attribute_problem(spec: AttributeSpec, value: object) -> str | None:  # noqa: PLR0911
    """Why ``value`` does not fit ``spec``, or None."""
    if spec.type == "bool":
        return None if isinstance(value, bool) else "expected true or false"
    if spec.type == "number":
        if isinstance(value, bool):
            return "expected a number"
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return "expected a number"
        if not number.is_finite():
            return "expected a number"
        if spec.min is not None and number < spec.min:
            return f"below the minimum {spec.min}"
        if spec.max is not None and number > spec.max:
            return f"above the maximum {spec.max}"
        return None
    if not isinstance(value, str):
        return "expected text"
    if spec.type == "enum" and value not in spec.allowed_values:
        return f"not one of {', '.join(spec.allowed_values)}"
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        return "does not match the required format"
    return None


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@rule("ATTR.MISSING_REQUIRED", Severity.BLOCK)
def missing_required(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """Every attribute the category requires is filled in."""
    for spec in facts.category.attributes:
        if spec.required and _empty(facts.attributes.get(spec.name)):
            yield Hit(
                f"attributes.{spec.name}",
                "",
                f"缺少必填属性“{spec.name}”",
                f"The required attribute '{spec.name}' is missing.",
            )


@rule("ATTR.INVALID_VALUE", Severity.BLOCK)
def invalid_value(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """Attribute values have the type, range, allowed values and format of the schema."""
    specs = {spec.name: spec for spec in facts.category.attributes}
    for name, value in facts.attributes.items():
        spec = specs.get(name)
        if spec is None or _empty(value):
            continue
        problem = attribute_problem(spec, value)
        if problem:
            yield Hit(
                f"attributes.{name}",
                str(value),
                f"属性“{name}”的值“{value}”无效",
                f"Attribute '{name}' = '{value}': {problem}.",
            )


# ---------------------------------------------------------------- images


@rule("IMAGE.NONE", Severity.BLOCK)
def no_image(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """A listing shows at least one image."""
    if not facts.images:
        yield Hit("images", "0", "请上传至少一张商品主图", "Upload at least one product image.")


@rule("IMAGE.TOO_SMALL", Severity.BLOCK)
def image_too_small(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """The main image is at least the minimum size on its shorter side."""
    if not facts.images:
        return
    main = facts.images[0]
    minimum = facts.category.min_image_side_px or ctx.ruleset.min_image_side_px
    if min(main.width, main.height) < minimum:
        yield Hit(
            "images[0]",
            f"{main.width}x{main.height}",
            f"主图尺寸 {main.width}×{main.height} 小于 {minimum}×{minimum}",
            f"The main image is {main.width}x{main.height}; {minimum}x{minimum} is the minimum.",
        )


@rule("IMAGE.BACKGROUND_NOT_WHITE", Severity.REVIEW)
def background_not_white(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """The main image shows the product on a white background."""
    if not facts.images or facts.images[0].border_whiteness is None:
        return
    whiteness = facts.images[0].border_whiteness
    if whiteness < ctx.ruleset.white_border_min:
        yield Hit(
            "images[0]",
            f"{whiteness:.2f}",
            f"主图背景不是白色（白色边缘占比 {whiteness:.0%}）",
            f"The main image's background is not white ({whiteness:.0%} of the border).",
        )


@rule("IMAGE.REUSED_FROM_OTHER_SUPPLIER", Severity.REVIEW)
def image_reused(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """An image nearly identical to another supplier's image of another product."""
    limit = ctx.ruleset.image_reuse_max_distance
    close = [
        r
        for r in facts.reused_images
        if r.distance <= limit and r.other_supplier_id != facts.supplier.supplier_id
    ]
    if close:
        # Another supplier's listing is not the supplier's to know (it may not be
        # public): the finding says whose image it is, not which listing.
        nearest = min(close, key=lambda r: r.distance)
        yield Hit(
            "images",
            f"distance={nearest.distance}",
            "商品图片与其他供应商的商品图片高度相似，需人工核实",
            "An image closely matches another supplier's image; a person will check it.",
        )


# ---------------------------------------------------------------- listing


@rule("LISTING.DUPLICATE", Severity.BLOCK)
def duplicate(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """No second live listing of the same product by the same supplier (重复铺货)."""
    if facts.duplicates_of:
        yield Hit(
            "model",
            ",".join(facts.duplicates_of),
            "已有相同品牌、型号和规格的在售商品，不得重复铺货",
            f"You already sell this product: {', '.join(facts.duplicates_of)}.",
        )


# ---------------------------------------------------------------- price
# The price monitor assesses the price (pricing_monitor.assess); these rules
# turn its band into findings, so review and monitoring judge alike.


@rule("PRICE.ABOVE_MARKET", Severity.BLOCK)
def above_market(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """The price may not exceed the market baseline plus the category's tolerance."""
    m = facts.market
    if m.band == "above_market":
        yield Hit(
            "price",
            f"price={facts.price} baseline={m.baseline} deviation={m.deviation_pct}%"
            f" tolerance={m.tolerance_pct}%",
            f"价格 {facts.price} 元高于市场基准价 {m.baseline} 元（高出 {m.deviation_pct}%）",
            f"The price {facts.price} is {m.deviation_pct}% above the baseline {m.baseline}.",
        )


@rule("PRICE.ABNORMALLY_LOW", Severity.REVIEW)
def abnormally_low(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """A price far below the market needs a person's look (bait or error)."""
    m = facts.market
    if m.band == "abnormally_low":
        yield Hit(
            "price",
            f"price={facts.price} baseline={m.baseline} deviation={m.deviation_pct}%",
            f"价格 {facts.price} 元低于基准价 {m.baseline} 元（{m.deviation_pct}%），需人工核实",
            f"The price {facts.price} is {m.deviation_pct}% off the market baseline {m.baseline}.",
        )


@rule("PRICE.NO_BASELINE", Severity.INFO)
def no_baseline(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """No fresh market price to compare with."""
    if facts.market.band in ("no_baseline", "stale_baseline"):
        yield Hit(
            "price",
            facts.market.band,
            "暂无有效的市场基准价",
            "No current market baseline for this product.",
        )


# ---------------------------------------------------------------- policy and units


@rule("POLICY.ENERGY_CERT_MISSING", Severity.BLOCK)
def energy_cert_missing(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """Categories under mandatory energy-saving procurement need the certificate number."""
    if facts.category.energy_cert_mandatory and _empty(facts.energy_cert_no):
        yield Hit(
            "energy_cert_no",
            "",
            "该品目属于节能产品强制采购范围，须填写节能产品认证证书编号",
            "This category requires an energy-saving product certificate number.",
        )


@rule("UNIT.UNUSUAL", Severity.REVIEW)
def unusual_unit(facts: ListingFacts, ctx: Context) -> Iterator[Hit]:
    """The unit of measure is one usual for the category."""
    usual = facts.category.usual_units
    if usual and facts.unit not in usual:
        yield Hit(
            "unit",
            facts.unit,
            f"计量单位“{facts.unit}”不是该品目的常用单位（{'、'.join(sorted(usual))}）",
            f"The unit '{facts.unit}' is unusual for this category.",
        )
