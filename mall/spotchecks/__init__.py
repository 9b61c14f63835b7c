"""Random spot checks (双随机): a committed seed, a published population, a recomputable draw.

``mall.spotchecks.draw`` is pure (standard library only): import it to recompute a draw.
"""

from mall.spotchecks import draw

__all__ = ["draw"]
