"""The audit trail: append in the same transaction as the change; verify the chain."""

from mall.audit.service import SYSTEM, Actor, VerifyResult, record, verify

__all__ = ["SYSTEM", "Actor", "VerifyResult", "record", "verify"]
