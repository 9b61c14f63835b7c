"""Joint punishment (联合惩戒): dishonest behaviours, penalties and the credit score.

``mall.penalties.score`` is the pure credit-score formula (standard library only).
"""

from mall.penalties import score

__all__ = ["score"]
