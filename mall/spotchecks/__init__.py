"""Random spot checks (双随机): a committed seed, a published population, a recomputable draw."""

from mall.spotchecks.models import SpotCheck, SpotCheckItem

__all__ = ["SpotCheck", "SpotCheckItem"]
