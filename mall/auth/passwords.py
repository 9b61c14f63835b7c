"""Argon2id password hashes, and the rules a new password must meet."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both paths cost the same
    (made on first use, not when every process starts)."""
    return _hasher.hash("not-a-password")


MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; constant work whether or not a hash exists."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True, slots=True)
class PasswordProblem:
    """Why a new password is refused, in both languages."""

    code: str
    message: str
    message_zh: str

    def as_field_error(self, field: str) -> dict[str, str]:
        return {
            "field": field,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
        }


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public leaks, as zxcvbn ranks them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str) -> PasswordProblem | None:
    """None when the password may be set for this e-mail, else the first rule it breaks:
    at least ``MIN_PASSWORD_LENGTH`` characters, not a common password, not the e-mail."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordProblem(
            "user.password_too_short",
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
        )
    folded = password.strip().lower()
    if folded in _common_passwords():
        return PasswordProblem(
            "user.password_common",
            "This password is among the most common ones; choose another.",
            "该密码过于常见，请换一个",
        )
    email = email.strip().lower()
    local = email.partition("@")[0]
    if email and (email in folded or folded == local):
        return PasswordProblem(
            "user.password_is_email",
            "The password may not be the e-mail address.",
            "密码不能与邮箱地址相同",
        )
    return None
