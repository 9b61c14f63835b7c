"""Product identity: which market observations describe the same product as a listing.

GTIN when both sides have one; otherwise the normalised brand (aliases such as
得力 = deli fold to one canonical name) and the normalised model number (case,
full-width/half-width, spaces, hyphens and brackets ignored). No guessing
beyond that: what does not match is reported as unmatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The listing side (catalog) folds with the same functions: one definition.
from review_rules.text import normalise, normalise_model

__all__ = [
    "NO_ALIASES",
    "BrandAliases",
    "ProductIdentity",
    "identity_of",
    "normalise_model",
    "same_product",
]


def _fold(text: str) -> str:
    return normalise(text).strip()


@dataclass(frozen=True)
class BrandAliases:
    """Alias → canonical brand, built from groups such as ("得力", "deli")."""

    canonical: Mapping[str, str]

    @classmethod
    def from_groups(cls, groups: Iterable[Iterable[str]]) -> BrandAliases:
        mapping: dict[str, str] = {}
        for group in groups:
            names = [_fold(n) for n in group if n.strip()]
            if names:
                for name in names:
                    mapping[name] = names[0]
        return cls(mapping)

    def normalise(self, brand: str) -> str:
        folded = _fold(brand)
        return self.canonical.get(folded, folded)


NO_ALIASES = BrandAliases({})


@dataclass(frozen=True, slots=True)
class ProductIdentity:
    brand: str  # normalised
    model: str  # normalised
    gtin: str | None = None


def identity_of(
    brand: str, model: str, gtin: str | None, aliases: BrandAliases = NO_ALIASES
) -> ProductIdentity:
    gtin = (gtin or "").strip() or None
    return ProductIdentity(aliases.normalise(brand), normalise_model(model), gtin)


def same_product(a: ProductIdentity, b: ProductIdentity) -> bool:
    """GTIN decides when both have one; otherwise brand and model must both agree."""
    if a.gtin and b.gtin:
        return a.gtin == b.gtin
    return bool(a.model) and a.brand == b.brand and a.model == b.model
