"""Signing in, the caller's identity, and API tokens."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from mall.api.deps import DbSession
from mall.auth import service
from mall.auth.addresses import request_address
from mall.auth.guards import current_principal, requires, signed_in
from mall.auth.models import ApiToken
from mall.auth.schemas import (
    AccessToken,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenOut,
    LoginRequest,
    Me,
    PasswordChange,
)
from mall.auth.tokens import decode_access_token


def _token_out(token: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=token.id,
        name=token.name,
        prefix=token.token_prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


class AuthController(Controller):
    path = "/api/v1"
    tags = ["auth"]

    @post("/auth/login", status_code=200, summary="Sign in with e-mail and password")
    async def login(
        self, request: Request, data: JSONBody[LoginRequest], db_session: DbSession
    ) -> AccessToken:
        """Exchanges an e-mail and password for a bearer access token (1 hour). Failed attempts are
        throttled per account and per address (429 with Retry-After).
        """
        state = request.app.state
        result = await service.login(
            db_session,
            state.settings.auth,
            state.login_throttle,
            email=data.email,
            password=data.password,
            address=request_address(request, state.trusted_proxies),
        )
        return AccessToken(access_token=result.access_token, expires_in=result.expires_in)

    @post(
        "/auth/logout",
        status_code=204,
        guards=[signed_in],
        summary="Sign out: the access token is revoked until it would have expired",
    )
    async def logout(self, request: Request, db_session: DbSession) -> None:
        """Signs out: the access token used is revoked (401 from then on) until it would have
        expired."""
        principal = current_principal(request)
        secret = request.app.state.settings.auth.secret_key
        # An API token is not signed out but revoked (DELETE /auth/api-tokens/{id}).
        claims = None if principal.api_token_id else decode_access_token(str(request.auth), secret)
        await service.logout(db_session, principal, claims)

    @post(
        "/me/password",
        status_code=200,
        guards=[signed_in],
        summary="Change the password (the current one required); earlier tokens stop working",
    )
    async def change_password(
        self, request: Request, data: JSONBody[PasswordChange], db_session: DbSession
    ) -> AccessToken:
        """Changes the signed-in user's password (the current one required, a wrong one counted
        like a failed sign-in); every earlier token stops working and a new one is returned."""
        state = request.app.state
        result = await service.change_password(
            db_session,
            state.settings.auth,
            state.login_throttle,
            current_principal(request),
            current_password=data.current_password,
            new_password=data.new_password,
            address=request_address(request, state.trusted_proxies),
        )
        return AccessToken(access_token=result.access_token, expires_in=result.expires_in)

    @get("/me", guards=[signed_in], summary="Who am I")
    async def me(self, request: Request) -> Me:
        """The signed-in user and their organisation: id, kind and name."""
        p = current_principal(request)
        return Me(
            id=p.user_id,
            email=p.email,
            org_id=p.org_id,
            org_kind=p.org_kind.value,
            org_name=p.org_name,
        )


class ApiTokenController(Controller):
    path = "/api/v1/auth/api-tokens"
    tags = ["auth"]
    guards = [requires(*service.API_TOKEN_KINDS)]

    @post("/", summary="Create an API token (the secret is shown once)")
    async def create(
        self, request: Request, data: JSONBody[ApiTokenCreate], db_session: DbSession
    ) -> ApiTokenCreated:
        """Creates an API token (`mall_…`) for a supplier's or operator's own system. The secret is
        in this answer only; it is stored as a hash.
        """
        token, secret = await service.create_api_token(
            db_session, current_principal(request), name=data.name, expires_at=data.expires_at
        )
        out = _token_out(token)
        return ApiTokenCreated(**{f: getattr(out, f) for f in out.__struct_fields__}, token=secret)

    @get("/", summary="Your organisation's active API tokens")
    async def list_tokens(self, request: Request, db_session: DbSession) -> list[ApiTokenOut]:
        """The organisation's API tokens, neither revoked nor expired; never their secrets."""
        return [
            _token_out(t)
            for t in await service.list_api_tokens(db_session, current_principal(request))
        ]

    @delete("/{token_id:uuid}", status_code=200, summary="Revoke an API token")
    async def revoke(
        self, request: Request, token_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ApiTokenOut:
        """Revokes one of the organisation's API tokens at once; requests with it are 401 from then
        on.
        """
        return _token_out(
            await service.revoke_api_token(db_session, current_principal(request), token_id)
        )
