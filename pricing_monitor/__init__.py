"""Market price baselines, matching listings to them, and assessing prices.

The core (``identity``, ``policy``, ``assessment``) is pure: no web, database
or queue imports (enforced by import-linter). The tables it owns live in
``pricing_monitor.models``.
"""

from pricing_monitor.assessment import Assessment, assess
from pricing_monitor.identity import (
    BrandAliases,
    ProductIdentity,
    identity_of,
    normalise_model,
    same_product,
)
from pricing_monitor.policy import (
    DEFAULT_POLICY,
    Baseline,
    BaselinePolicy,
    Observation,
    compute_baseline,
)

__all__ = [
    "DEFAULT_POLICY",
    "Assessment",
    "Baseline",
    "BaselinePolicy",
    "BrandAliases",
    "Observation",
    "ProductIdentity",
    "assess",
    "compute_baseline",
    "identity_of",
    "normalise_model",
    "same_product",
]
