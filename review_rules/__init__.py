"""Listing review rules: facts in, an explained decision out.

Pure by contract: this package imports nothing from the project and no web,
database or queue library (enforced by import-linter). The mall gathers a
``ListingFacts`` snapshot, calls ``evaluate`` and stores the ``Decision``.
"""

from review_rules.engine import RULE_ERROR, evaluate, is_approvable, outcome_of
from review_rules.model import (
    AttributeSpec,
    CategorySpec,
    Decision,
    Finding,
    ImageFacts,
    ImageReuse,
    ListingFacts,
    MarketFacts,
    Outcome,
    Severity,
    SupplierFacts,
)
from review_rules.registry import RULES
from review_rules.rules import attribute_problem
from review_rules.ruleset import DEFAULT_RULESET, Ruleset
from review_rules.text import normalise_model

__all__ = [
    "DEFAULT_RULESET",
    "RULES",
    "RULE_ERROR",
    "AttributeSpec",
    "CategorySpec",
    "Decision",
    "Finding",
    "ImageFacts",
    "ImageReuse",
    "ListingFacts",
    "MarketFacts",
    "Outcome",
    "Ruleset",
    "Severity",
    "SupplierFacts",
    "attribute_problem",
    "evaluate",
    "is_approvable",
    "normalise_model",
    "outcome_of",
]
