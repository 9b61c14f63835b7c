"""Settings, one dataclass per concern, read from the environment.

Only ``mall`` reads the environment; everything below it receives values.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def state_dir() -> Path:
    """Project-local folder for embedded servers, secrets and files (``./.mall``)."""
    return Path(_env("MALL_STATE_DIR", str(PROJECT_ROOT / ".mall")) or ".mall").resolve()


@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None = field(default_factory=lambda: _env("DATABASE_URL"))
    pool_size: int = field(default_factory=lambda: _env_int("MALL_DB_POOL_SIZE", 10))
    max_overflow: int = field(default_factory=lambda: _env_int("MALL_DB_MAX_OVERFLOW", 10))
    echo: bool = field(default_factory=lambda: _env_bool("MALL_DB_ECHO", False))
    # Seconds to open a connection and to wait for one from the pool; past
    # them a request is answered 503 instead of hanging.
    connect_timeout: int = field(default_factory=lambda: _env_int("MALL_DB_CONNECT_TIMEOUT", 5))
    pool_timeout: int = field(default_factory=lambda: _env_int("MALL_DB_POOL_TIMEOUT", 10))


@dataclass(frozen=True)
class RedisSettings:
    url: str | None = field(default_factory=lambda: _env("REDIS_URL"))
    # Every key the mall writes starts with this prefix, so several installations
    # (or test runs) can share one Redis without colliding.
    key_prefix: str = field(default_factory=lambda: _env("MALL_REDIS_PREFIX", "mall") or "mall")

    @property
    def queue_name(self) -> str:
        return f"{self.key_prefix}:queue"


@dataclass(frozen=True)
class ServerSettings:
    host: str = field(default_factory=lambda: _env("MALL_HOST", "127.0.0.1") or "127.0.0.1")
    port: int = field(default_factory=lambda: _env_int("MALL_PORT", 8000))
    max_json_body_bytes: int = field(
        default_factory=lambda: _env_int("MALL_MAX_JSON_BODY_BYTES", 1024 * 1024)
    )
    debug: bool = field(default_factory=lambda: _env_bool("MALL_DEBUG", False))


@dataclass(frozen=True)
class AuthSettings:
    secret_key: str = field(default_factory=lambda: _env("MALL_SECRET_KEY") or _local_secret())
    access_token_ttl_seconds: int = field(
        default_factory=lambda: _env_int("MALL_ACCESS_TOKEN_TTL", 3600)
    )
    # Login throttling (see mall/auth/throttle.py): per account and address pair,
    # free failures, then a wait doubling from the base delay up to the maximum;
    # a pair's failures are forgotten after the window without one.
    login_window_seconds: int = field(
        default_factory=lambda: _env_int("MALL_LOGIN_WINDOW_SECONDS", 900)
    )
    login_free_failures: int = field(
        default_factory=lambda: _env_int("MALL_LOGIN_FREE_FAILURES", 5)
    )
    login_base_delay_seconds: int = field(
        default_factory=lambda: _env_int("MALL_LOGIN_BASE_DELAY_SECONDS", 2)
    )
    login_max_delay_seconds: int = field(
        default_factory=lambda: _env_int("MALL_LOGIN_MAX_DELAY_SECONDS", 900)
    )
    # Failures from one address across all accounts per window: far above a
    # school's or a hospital's mistyping behind one NAT address.
    login_max_failures_per_address: int = field(
        default_factory=lambda: _env_int("MALL_LOGIN_MAX_FAILURES_PER_ADDRESS", 500)
    )
    # Proxies whose X-Forwarded-For is believed (CIDRs, comma-separated); none by default.
    trusted_proxies: str = field(default_factory=lambda: _env("MALL_TRUSTED_PROXIES", "") or "")


@dataclass(frozen=True)
class LogSettings:
    level: str = field(default_factory=lambda: (_env("MALL_LOG_LEVEL", "INFO") or "INFO").upper())
    json: bool = field(default_factory=lambda: _env_bool("MALL_LOG_JSON", True))


@dataclass(frozen=True)
class JobSettings:
    outbox_sweep_seconds: int = field(
        default_factory=lambda: _env_int("MALL_OUTBOX_SWEEP_SECONDS", 10)
    )
    outbox_batch_size: int = field(default_factory=lambda: _env_int("MALL_OUTBOX_BATCH", 500))
    # Where `mall worker` serves its Prometheus metrics (0: not served).
    worker_metrics_port: int = field(
        default_factory=lambda: _env_int("MALL_WORKER_METRICS_PORT", 0)
    )


@dataclass(frozen=True)
class SearchSettings:
    meilisearch_url: str | None = field(default_factory=lambda: _env("MEILISEARCH_URL"))
    meilisearch_key: str | None = field(default_factory=lambda: _env("MEILISEARCH_API_KEY"))


# Default length, in working days, of each kind of SLA clock. Sources: the
# Baotou e-mall (verification 2, returns and terminations 1), the Qingdao
# rules (contract 10, acceptance 7, payment 5), provincial price rules (5).
DEFAULT_SLA_WORKING_DAYS: dict[str, int] = {
    "supplier_verification": 2,
    "listing_review": 2,
    "change_request_verification": 1,
    "order_confirmation": 1,
    "contract": 10,
    "acceptance": 7,
    "payment": 5,
    "price_fix": 5,
    "objection_window": 5,
    "case_acceptance": 2,
    "case_resolution": 15,
}


def _sla_days() -> dict[str, int]:
    """Defaults, overridden by ``MALL_SLA_DAYS="payment=3,contract=7"``."""
    days = dict(DEFAULT_SLA_WORKING_DAYS)
    for item in (_env("MALL_SLA_DAYS") or "").split(","):
        if item.strip():
            kind, _, value = item.partition("=")
            days[kind.strip()] = int(value)
    return days


@dataclass(frozen=True)
class SlaSettings:
    working_days: dict[str, int] = field(default_factory=_sla_days)

    def days_for(self, kind: str) -> int:
        try:
            return self.working_days[kind]
        except KeyError:
            raise KeyError(f"no default length for SLA clock kind {kind!r}") from None


CC_BY_4 = "https://creativecommons.org/licenses/by/4.0/"
PUBLISHER = "政府采购电子卖场"


@dataclass(frozen=True)
class MallSettings:
    """The mall's own facts: where it is, what it accepts."""

    # Administrative division prefix of the mall's region (15 = Inner Mongolia).
    region_prefix: str = field(default_factory=lambda: _env("MALL_REGION_PREFIX", "15") or "15")
    document_max_bytes: int = field(
        default_factory=lambda: _env_int("MALL_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
    )
    # Public disclosure endpoints: requests per minute per client address.
    public_requests_per_minute: int = field(
        default_factory=lambda: _env_int("MALL_PUBLIC_REQUESTS_PER_MINUTE", 300)
    )

    # OCDS export: the publisher's registered ocid prefix (``ocds-`` and six
    # characters; a real publisher registers its own), name, licence and policy.
    ocds_prefix: str = field(
        default_factory=lambda: _env("MALL_OCDS_PREFIX", "ocds-emall0") or "ocds-emall0"
    )
    ocds_publisher: str = field(
        default_factory=lambda: _env("MALL_OCDS_PUBLISHER", PUBLISHER) or PUBLISHER
    )
    ocds_license: str = field(default_factory=lambda: _env("MALL_OCDS_LICENSE", CC_BY_4) or CC_BY_4)
    # Empty: the API description served by this process (``/schema``).
    ocds_publication_policy: str = field(
        default_factory=lambda: _env("MALL_OCDS_PUBLICATION_POLICY", "") or ""
    )

    @property
    def files_dir(self) -> Path:
        return state_dir() / "files"


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    log: LogSettings = field(default_factory=LogSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    mall: MallSettings = field(default_factory=MallSettings)


def _local_secret() -> str:
    """A signing key kept in ``.mall/secret_key`` for a single-machine install.

    Production sets ``MALL_SECRET_KEY`` so that every API process signs alike.
    """
    path = state_dir() / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    tmp.chmod(0o600)
    try:
        # Two processes starting at once must end with one key.
        os.link(tmp, path)
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
