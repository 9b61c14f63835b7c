"""Objections (异议), public reports (举报) and disputes (争议)."""

from mall.cases.models import Case, CaseAttachment, CaseMessage
from mall.cases.subjects import Subject, SubjectResolver, register, resolver_for

__all__ = [
    "Case",
    "CaseAttachment",
    "CaseMessage",
    "Subject",
    "SubjectResolver",
    "register",
    "resolver_for",
]
