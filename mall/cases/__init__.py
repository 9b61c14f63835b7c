"""Objections (异议), public reports (举报) and disputes (争议).

Subject types are resolved through ``mall.cases.subjects`` (``register`` adds one).
"""

from mall.cases.models import Case, CaseAttachment, CaseMessage

__all__ = ["Case", "CaseAttachment", "CaseMessage"]
