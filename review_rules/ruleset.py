"""A ruleset: which rules run, how severe each is, and their thresholds.

Rulesets are data (stored by the mall as JSON, one active at a time); this
module gives them a shape and a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from review_rules.model import Severity

# Advertising Law art. 9(3) forbids 国家级、最高级、最佳 and the like; e-malls
# enforce longer lists of absolute and superlative claims.
ABSOLUTE_TERMS = (
    "国家级",
    "最高级",
    "最佳",
    "最",
    "第一",
    "顶级",
    "极品",
    "独家",
    "全网最低",
    "最低价",
    "史上最",
    "绝对",
    "万能",
    "首选",
    "唯一",
    "独一无二",
    "极致",
    "最优",
    "最强",
    "世界级",
    "全球首发",
    "销量冠军",
    "第一品牌",
    "王牌",
    "永久",
    "100%",
    "百分之百",
)
# Ordinary words that contain a forbidden term but claim nothing absolute.
ORDINARY_WORDS = (
    "最新",
    "最近",
    "最终",
    "最后",
    "最多",
    "最少",
    "最大",
    "最小",
    "最高",
    "最低",
    "最长",
    "最短",
    "最快",
    "最慢",
    "最宽",
    "最窄",
    "最厚",
    "最薄",
    "最重",
    "最轻",
    "最远",
    "最近",
    "第一代",
    "第一季",
    "第一版",
    "第一类",
    "第一款",
    "第一批",
    "第一层",
    "第一排",
    "唯一码",
    "唯一标识",
    "绝对湿度",
    "绝对值",
    "永久磁铁",
    "永久性",
    "永久磁",
)


@dataclass(frozen=True)
class Ruleset:
    version: str = "builtin-1"
    # None: every registered rule; otherwise only these.
    enabled: frozenset[str] | None = None
    severities: Mapping[str, Severity] = field(default_factory=dict)
    title_min_length: int = 8
    title_max_length: int = 60
    absolute_terms: tuple[str, ...] = ABSOLUTE_TERMS
    ordinary_words: tuple[str, ...] = ORDINARY_WORDS
    min_image_side_px: int = 800
    white_border_min: float = 0.90
    image_reuse_max_distance: int = 6
    abnormally_low_pct: Decimal = Decimal("30")

    def runs(self, rule_id: str) -> bool:
        return self.enabled is None or rule_id in self.enabled

    def severity_of(self, rule_id: str, default: Severity) -> Severity:
        return self.severities.get(rule_id, default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ruleset:
        """Build from stored JSON; unknown keys are an error, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ruleset settings: {', '.join(unknown)}")
        values: dict[str, Any] = dict(data)
        if values.get("enabled") is not None:
            values["enabled"] = frozenset(values["enabled"])
        if "severities" in values:
            values["severities"] = {k: Severity(v) for k, v in values["severities"].items()}
        for name in ("absolute_terms", "ordinary_words"):
            if name in values:
                values[name] = tuple(values[name])
        if "abnormally_low_pct" in values:
            values["abnormally_low_pct"] = Decimal(str(values["abnormally_low_pct"]))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "enabled": sorted(self.enabled) if self.enabled is not None else None,
            "severities": {k: v.value for k, v in sorted(self.severities.items())},
            "title_min_length": self.title_min_length,
            "title_max_length": self.title_max_length,
            "absolute_terms": list(self.absolute_terms),
            "ordinary_words": list(self.ordinary_words),
            "min_image_side_px": self.min_image_side_px,
            "white_border_min": self.white_border_min,
            "image_reuse_max_distance": self.image_reuse_max_distance,
            "abnormally_low_pct": str(self.abnormally_low_pct),
        }


DEFAULT_RULESET = Ruleset()
