"""Joint punishment (联合惩戒): dishonest behaviours, penalties and the credit score."""

from mall.penalties.models import Penalty, PenaltyKind

__all__ = ["Penalty", "PenaltyKind"]
