"""The audit trail: append in the same transaction as the change; verify the chain."""

from mall.audit.service import (
    SYSTEM,
    Actor,
    Event,
    SignedHead,
    VerifyResult,
    record,
    record_many,
    verify,
)

__all__ = [
    "SYSTEM",
    "Actor",
    "Event",
    "SignedHead",
    "VerifyResult",
    "record",
    "record_many",
    "verify",
]
