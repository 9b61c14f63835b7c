"""Reads the bearer token, if any, and puts the caller's Principal on the request.

No token: the request goes on anonymously (``request.user`` is None) and the
guards decide. A token that is present but invalid, expired or revoked is a
401 here, before any handler runs.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from mall.auth import service
from mall.auth.tokens import InvalidToken, decode_access_token, looks_like_api_token
from mall.errors import UnauthenticatedError


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            return AuthenticationResult(user=None, auth=None)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError(
                "Use 'Authorization: Bearer <token>'.", code="auth.bad_scheme", title="认证方式无效"
            )
        state = connection.app.state
        async with state.session_maker() as session, session.begin():
            if looks_like_api_token(token):
                principal = await service.principal_for_api_token(session, token)
                if principal is None:
                    raise UnauthenticatedError(
                        "The API token is unknown, revoked or expired.",
                        code="auth.api_token_invalid",
                        title="API 令牌无效、已吊销或已过期",
                    )
                return AuthenticationResult(user=principal, auth=token)
            try:
                claims = decode_access_token(token, state.settings.auth.secret_key)
            except InvalidToken as exc:
                if exc.reason == "expired":
                    raise UnauthenticatedError(
                        "The access token has expired; sign in again.",
                        code="auth.token_expired",
                        title="登录已过期，请重新登录",
                    ) from exc
                raise UnauthenticatedError(
                    "The access token is not valid.",
                    code="auth.token_invalid",
                    title="访问令牌无效",
                ) from exc
            principal = await service.principal_for_user(session, claims.user_id, claims)
            if principal is None and await service.principal_for_user(session, claims.user_id):
                raise UnauthenticatedError(
                    "The access token was signed out or replaced by a password change;"
                    " sign in again.",
                    code="auth.token_revoked",
                    title="登录已失效，请重新登录",
                )
        if principal is None:
            raise UnauthenticatedError(
                "The account no longer exists or is disabled.",
                code="auth.account_disabled",
                title="账号不存在或已停用",
            )
        return AuthenticationResult(user=principal, auth=token)
