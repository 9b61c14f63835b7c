"""Running every rule over a listing's facts and deciding.

Every enabled rule runs; a block anywhere rejects, else a review anywhere
sends the listing to a person, else it is approved. A rule that raises does
not crash the review: it becomes a ``RULE.ERROR`` finding (review).
"""

from __future__ import annotations

from collections.abc import Iterable

import review_rules.rules  # noqa: F401  (registers the catalogue)
from review_rules.model import Decision, Finding, ListingFacts, Outcome, Severity
from review_rules.registry import RULES, Context
from review_rules.ruleset import DEFAULT_RULESET, Ruleset

RULE_ERROR = "RULE.ERROR"


_contexts: dict[str, tuple[Ruleset, Context]] = {}


def _context(ruleset: Ruleset) -> Context:
    """The prepared context of a ruleset, built once per version."""
    cached = _contexts.get(ruleset.version)
    if (
        cached is not None
        and (cached[0] is ruleset or cached[0] == ruleset)
        and cached[1].registry_size == len(RULES)  # rules added or removed since (tests)
    ):
        return cached[1]
    context = Context(ruleset)
    _contexts[ruleset.version] = (ruleset, context)
    return context


def outcome_of(findings: Iterable[Finding]) -> Outcome:
    """The decision is a function of the findings' severities alone."""
    severities = {f.severity for f in findings}
    if Severity.BLOCK in severities:
        return Outcome.REJECTED
    if Severity.REVIEW in severities:
        return Outcome.MANUAL_REVIEW
    return Outcome.APPROVED


def evaluate(facts: ListingFacts, ruleset: Ruleset = DEFAULT_RULESET) -> Decision:
    """Review one listing: every finding, explained, and the outcome."""
    ctx = _context(ruleset)
    findings: list[Finding] = []
    for rule_id, severity, check in ctx.plan:
        try:
            for hit in check(facts, ctx):
                findings.append(
                    Finding(
                        rule_id, severity, hit.field, hit.evidence, hit.message_zh, hit.message_en
                    )
                )
        except Exception as exc:  # a broken rule sends the listing to a person
            findings.append(
                Finding(
                    RULE_ERROR,
                    Severity.REVIEW,
                    rule_id,
                    f"{type(exc).__name__}: {exc}",
                    f"审核规则 {rule_id} 执行出错，转人工审核",
                    f"Rule {rule_id} failed; a person will review the listing.",
                )
            )
    return Decision(outcome_of(findings), tuple(findings), ruleset.version)


def is_approvable(facts: ListingFacts, ruleset: Ruleset = DEFAULT_RULESET) -> bool:
    return evaluate(facts, ruleset).approved
