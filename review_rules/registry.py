"""The rule catalogue: one function per rule, registered under a stable id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from review_rules.model import ListingFacts, Severity
from review_rules.ruleset import Ruleset
from review_rules.text import TermMatcher


@dataclass(frozen=True, slots=True)
class Hit:
    """What a rule found: where, the evidence, and a message in both languages."""

    field: str
    evidence: str
    message_zh: str
    message_en: str


class Context:
    """A ruleset with what it needs prepared once: the term automaton and the
    enabled rules with their severities."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.absolute_terms = TermMatcher(ruleset.absolute_terms, ruleset.ordinary_words)
        self.registry_size = len(RULES)
        self.plan: list[tuple[str, Severity, RuleFunction]] = [
            (rule_id, ruleset.severity_of(rule_id, rule.severity), rule.check)
            for rule_id, rule in RULES.items()
            if ruleset.runs(rule_id)
        ]


RuleFunction = Callable[[ListingFacts, Context], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    severity: Severity
    check: RuleFunction
    doc: str


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule; ids are unique and never reused for another meaning."""

    def register(check: RuleFunction) -> RuleFunction:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, severity, check, (check.__doc__ or "").strip())
        return check

    return register
