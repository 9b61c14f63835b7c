"""The vocabulary of a review: facts in, findings and a decision out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Severity(StrEnum):
    BLOCK = "block"  # the listing cannot go on sale as it is
    REVIEW = "review"  # a person must look
    INFO = "info"  # worth knowing, decides nothing


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    MANUAL_REVIEW = "manual_review"


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    field: str
    evidence: str
    message_zh: str
    message_en: str


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    findings: tuple[Finding, ...]
    ruleset_version: str

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.APPROVED


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One attribute of a category's schema."""

    name: str
    type: str  # text | number | enum | bool
    unit: str | None = None
    required: bool = False
    allowed_values: tuple[str, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class CategorySpec:
    code: str
    name_zh: str
    attributes: tuple[AttributeSpec, ...] = ()
    energy_cert_mandatory: bool = False
    usual_units: frozenset[str] = frozenset()
    min_image_side_px: int | None = None  # overrides the ruleset's
    price_tolerance_pct: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class SupplierFacts:
    supplier_id: str
    status: str  # active | pending | suspended | expelled | withdrawn | rejected
    all_categories: bool = False
    granted_categories: frozenset[str] = frozenset()
    blocking_documents: tuple[str, ...] = ()  # mandatory documents missing or expired


@dataclass(frozen=True, slots=True)
class ImageFacts:
    width: int
    height: int
    phash: str | None = None
    border_whiteness: float | None = None  # share of near-white pixels on the border, 0..1


@dataclass(frozen=True, slots=True)
class ImageReuse:
    """Another supplier's image, on another product, close to one of ours."""

    other_supplier_id: str
    other_listing_id: str
    distance: int  # Hamming distance of the perceptual hashes


@dataclass(frozen=True, slots=True)
class MarketFacts:
    """The price monitor's assessment of the listing's price (``pricing_monitor.assess``)."""

    band: str = "no_baseline"  # ok | above_market | abnormally_low | no_baseline | stale_baseline
    baseline: Decimal | None = None
    deviation_pct: Decimal | None = None
    tolerance_pct: Decimal = Decimal("0")
    observations: int = 0
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """Everything the rules may look at, gathered before any rule runs."""

    listing_id: str
    title: str
    brand: str
    model: str
    category: CategorySpec
    attributes: Mapping[str, object]
    price: Decimal
    unit: str
    supplier: SupplierFacts
    images: tuple[ImageFacts, ...] = ()  # the first is the main image
    market: MarketFacts = field(default_factory=MarketFacts)
    gtin: str | None = None
    energy_cert_no: str | None = None
    brand_aliases: tuple[str, ...] = ()  # other names of the brand (得力 = deli)
    duplicates_of: tuple[str, ...] = ()  # the supplier's live listings of the same product
    reused_images: tuple[ImageReuse, ...] = ()
