"""Logging in, resolving who calls, and managing API tokens.

Row visibility is part of each query: an organisation sees and changes only
its own tokens; a token of another organisation is simply not found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.active import require_active_supplier
from mall.auth.models import ApiToken, Organisation, OrgKind, User, revoked_access_token
from mall.auth.passwords import (
    PasswordProblem,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from mall.auth.principal import Principal
from mall.auth.throttle import LoginThrottle
from mall.auth.tokens import AccessClaims, hash_api_token, issue_access_token, new_api_token
from mall.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ThrottledError,
    UnauthenticatedError,
)
from mall.notifications.service import notify
from mall.settings import AuthSettings

log = structlog.get_logger("mall.auth")

# Organisations whose own systems may call the API with a long-lived token.
API_TOKEN_KINDS = (OrgKind.SUPPLIER, OrgKind.OPERATOR)
MAX_ACTIVE_API_TOKENS = 20


@dataclass(frozen=True, slots=True)
class LoginResult:
    access_token: str
    expires_in: int


def _principal(user: User, org: Organisation, api_token_id: uuid.UUID | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        org_id=org.id,
        org_kind=OrgKind(org.kind),
        org_name=org.name,
        api_token_id=api_token_id,
    )


def _throttled(wait: int) -> ThrottledError:
    return ThrottledError(
        f"Too many failed sign-in attempts; try again in {wait} seconds.",
        code="auth.login_throttled",
        title="登录失败次数过多，请稍后再试",
        retry_after=wait,
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def login(
    session: AsyncSession,
    settings: AuthSettings,
    throttle: LoginThrottle,
    *,
    email: str,
    password: str,
    address: str,
) -> LoginResult:
    """Check the password and issue an access token; failures are throttled."""
    email = normalise_email(email)
    wait = await throttle.retry_after(email, address)
    if wait is not None:
        log.warning("auth.login_throttled", email=email, address=address, retry_after=wait)
        raise _throttled(wait)
    row = (
        await session.execute(
            select(User, Organisation)
            .join(Organisation, Organisation.id == User.org_id)
            .where(User.email == email)
        )
    ).first()
    user, org = (row[0], row[1]) if row else (None, None)
    # Always verify, against a dummy hash when the e-mail is unknown: an answer
    # that skipped the hash would tell, by its speed, which e-mails have accounts.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or org is None or not password_ok or not user.is_active:
        delay = await throttle.record_failure(email, address)
        log.info("auth.login_failed", email=email, address=address, next_wait=delay)
        raise UnauthenticatedError(
            "The e-mail or password is wrong, or the account is disabled.",
            code="auth.invalid_credentials",
            title="邮箱或密码错误",
        )
    await throttle.record_success(email, address)
    now = dt.datetime.now(dt.UTC)
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await audit.record(
        session,
        actor=audit.Actor.of(_principal(user, org)),
        action="auth.login",
        subject_type="user",
        subject_id=user.id,
        note=f"from {address}",
    )
    return _issue(settings, user, now)


def _issue(settings: AuthSettings, user: User, now: dt.datetime) -> LoginResult:
    token = issue_access_token(
        user.id,
        settings.secret_key,
        settings.access_token_ttl_seconds,
        now,
        generation=user.token_generation,
    )
    return LoginResult(access_token=token, expires_in=settings.access_token_ttl_seconds)


async def principal_for_user(
    session: AsyncSession, user_id: uuid.UUID, claims: AccessClaims | None = None
) -> Principal | None:
    """The active user's Principal; with the token's claims, None as well when the
    token was signed out or issued before the user's last password change."""
    query = (
        select(User, Organisation)
        .join(Organisation, Organisation.id == User.org_id)
        .where(User.id == user_id, User.is_active.is_(True))
    )
    if claims is not None:
        revoked = select(revoked_access_token.c.jti).where(
            revoked_access_token.c.jti == claims.token_id
        )
        query = query.where(User.token_generation == claims.generation, ~revoked.exists())
    row = (await session.execute(query)).first()
    return _principal(row[0], row[1]) if row else None


def _require_user_token(principal: Principal, what: str) -> None:
    if principal.api_token_id is not None:
        raise ForbiddenError(
            f"An API token cannot {what}; sign in as a user.",
            code="auth.api_token_not_allowed",
            title="API 令牌不能执行此操作，请以用户身份登录",
        )


async def logout(session: AsyncSession, principal: Principal, claims: AccessClaims | None) -> None:
    """Revoke the access token the caller signed in with, until it would have expired."""
    _require_user_token(principal, "sign out")
    if claims is None:
        raise UnauthenticatedError("Sign in first.", code="auth.unauthenticated")
    now = dt.datetime.now(dt.UTC)
    # Rows of tokens that have expired anyway are no longer needed.
    await session.execute(
        delete(revoked_access_token).where(revoked_access_token.c.expires_at < now)
    )
    await session.execute(
        pg_insert(revoked_access_token)
        .values(
            jti=claims.token_id,
            user_id=principal.user_id,
            expires_at=claims.expires_at,
            revoked_at=now,
        )
        .on_conflict_do_nothing(index_elements=["jti"])
    )
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="auth.logout",
        subject_type="user",
        subject_id=principal.user_id,
    )


async def change_password(
    session: AsyncSession,
    settings: AuthSettings,
    throttle: LoginThrottle,
    principal: Principal,
    *,
    current_password: str,
    new_password: str,
    address: str,
) -> LoginResult:
    """Set a new password (the current one must be given); every access token
    issued before stops working, and a new one is returned to the caller."""
    _require_user_token(principal, "change a password")
    wait = await throttle.retry_after(principal.email, address)
    if wait is not None:
        raise _throttled(wait)
    user = (
        await session.execute(
            select(User).where(User.id == principal.user_id).with_for_update(of=User)
        )
    ).scalar_one()
    if not verify_password(user.password_hash, current_password):
        await throttle.record_failure(principal.email, address)
        raise InvalidError(
            "The current password is wrong.",
            code="auth.current_password_wrong",
            title="当前密码不正确",
            errors=[
                {
                    "field": "current_password",
                    "message": "is wrong",
                    "message_zh": "当前密码不正确",
                }
            ],
        )
    problem = password_problem(new_password, user.email)
    if problem is None and new_password == current_password:
        problem = PasswordProblem(
            "user.password_unchanged",
            "The new password is the current one.",
            "新密码不能与当前密码相同",
        )
    if problem is not None:
        raise InvalidError(
            problem.message,
            code=problem.code,
            title=problem.message_zh,
            errors=[problem.as_field_error("new_password")],
        )
    await throttle.record_success(principal.email, address)
    user.password_hash = hash_password(new_password)
    user.token_generation += 1
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="auth.password_changed",
        subject_type="user",
        subject_id=user.id,
        note="every earlier access token revoked",
    )
    await notify(
        session,
        org_id=principal.org_id,
        kind="security.password_changed",
        title_zh="账号密码已修改",
        title_en="An account's password was changed",
        body_zh=(
            f"账号 {user.email} 的密码已修改，之前的登录均已失效。"
            "如非本人操作，请立即联系运营机构。"
        ),
        body_en=(
            f"The password of {user.email} was changed and every earlier sign-in ended."
            " If you did not, contact the operator at once."
        ),
        user_id=user.id,
        subject=("user", user.id),
    )
    await session.flush()
    return _issue(settings, user, dt.datetime.now(dt.UTC))


async def principal_for_api_token(session: AsyncSession, secret: str) -> Principal | None:
    """The token's organisation acting through the user who created the token."""
    now = dt.datetime.now(dt.UTC)
    row = (
        await session.execute(
            select(ApiToken, User, Organisation)
            .join(User, User.id == ApiToken.created_by)
            .join(Organisation, Organisation.id == ApiToken.org_id)
            .where(
                ApiToken.token_hash == hash_api_token(secret),
                ApiToken.revoked_at.is_(None),
                (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
                User.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    token, user, org = row
    # Record use at most once a minute per token, so a busy integration costs no write per call.
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token.id,
            (ApiToken.last_used_at.is_(None))
            | (ApiToken.last_used_at < now - dt.timedelta(minutes=1)),
        )
        .values(last_used_at=now)
    )
    return _principal(user, org, api_token_id=token.id)


def _require_token_owner(principal: Principal) -> None:
    if principal.api_token_id is not None:
        raise ForbiddenError(
            "API tokens cannot manage API tokens; sign in as a user.",
            code="auth.api_token_not_allowed",
            title="API 令牌不能管理令牌，请以用户身份登录",
        )
    if not principal.is_kind(*API_TOKEN_KINDS):
        raise ForbiddenError(
            "Only suppliers and operators may hold API tokens.",
            code="auth.api_token_kind",
            title="仅供应商和运营机构可使用 API 令牌",
        )


async def create_api_token(
    session: AsyncSession, principal: Principal, *, name: str, expires_at: dt.datetime | None
) -> tuple[ApiToken, str]:
    """A new token for the caller's organisation; the secret is returned once."""
    _require_token_owner(principal)
    await require_active_supplier(session, principal)
    if expires_at is not None and expires_at <= dt.datetime.now(dt.UTC):
        raise InvalidError(
            "expires_at must be in the future.",
            code="auth.api_token_expiry",
            title="过期时间必须晚于当前时间",
            errors=[{"field": "expires_at", "message": "must be in the future"}],
        )
    active = await list_api_tokens(session, principal)
    if len(active) >= MAX_ACTIVE_API_TOKENS:
        raise ConflictError(
            f"An organisation may hold at most {MAX_ACTIVE_API_TOKENS} active tokens;"
            " revoke one first.",
            code="auth.api_token_limit",
            title="有效令牌数量已达上限，请先吊销旧令牌",
        )
    secret, prefix, token_hash = new_api_token()
    token = ApiToken(
        org_id=principal.org_id,
        created_by=principal.user_id,
        name=name.strip(),
        token_prefix=prefix,
        token_hash=token_hash,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="auth.api_token.created",
        subject_type="api_token",
        subject_id=token.id,
        after={"name": token.name, "prefix": prefix, "expires_at": expires_at},
    )
    # A security notice to the organisation: a token acts in its name.
    await notify(
        session,
        org_id=principal.org_id,
        kind="security.api_token_created",
        title_zh=f"已创建新的 API 令牌「{token.name}」",
        title_en=f"A new API token '{token.name}' was created",
        body_zh=f"创建人：{principal.email}；令牌前缀：{prefix}。如非本机构操作，请立即吊销。",
        body_en=f"Created by {principal.email}; prefix {prefix}. Revoke it at once if you did not.",
        subject=("api_token", token.id),
    )
    return token, secret


async def list_api_tokens(session: AsyncSession, principal: Principal) -> Sequence[ApiToken]:
    """The caller's organisation's tokens that are not revoked, newest first."""
    _require_token_owner(principal)
    result = await session.execute(
        select(ApiToken)
        .where(ApiToken.org_id == principal.org_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return result.scalars().all()


async def revoke_api_token(
    session: AsyncSession, principal: Principal, token_id: uuid.UUID
) -> ApiToken:
    _require_token_owner(principal)
    token = (
        await session.execute(
            select(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.org_id == principal.org_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if token is None:
        raise NotFoundError(
            "No such API token in your organisation.",
            code="auth.api_token_not_found",
            title="令牌不存在",
        )
    if token.revoked_at is None:
        token.revoked_at = dt.datetime.now(dt.UTC)
        await audit.record(
            session,
            actor=audit.Actor.of(principal),
            action="auth.api_token.revoked",
            subject_type="api_token",
            subject_id=token.id,
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at},
        )
    return token
