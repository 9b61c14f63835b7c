"""Access tokens (signed JWTs, short-lived) and API tokens (opaque, stored hashed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt

API_TOKEN_PREFIX = "mall_"
_ALGORITHM = "HS256"
_AUDIENCE = "mall-api"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    expires_at: dt.datetime
    # The token's own id (what signing out revokes) and the user's token
    # generation it was issued under (a password change moves it on).
    token_id: str = ""
    generation: int = 0


class InvalidToken(Exception):
    """The token is malformed, forged or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_access_token(
    user_id: uuid.UUID,
    secret: str,
    ttl_seconds: int,
    now: dt.datetime | None = None,
    *,
    generation: int = 0,
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": str(user_id),
        "aud": _AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_seconds,
        "jti": secrets.token_hex(16),
        "gen": generation,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_access_token(token: str, secret: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["sub", "exp", "iat"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
            token_id=str(claims.get("jti", "")),
            generation=int(claims.get("gen", 0)),
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("expired") from exc
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidToken("invalid") from exc


def new_api_token() -> tuple[str, str, str]:
    """A fresh API token: (secret shown once, display prefix, stored hash)."""
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:12], hash_api_token(secret)


def hash_api_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_token(token: str) -> bool:
    return token.startswith(API_TOKEN_PREFIX)
