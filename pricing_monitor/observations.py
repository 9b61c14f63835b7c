"""Importing market observations and recomputing baselines (database side)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import operator
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from pricing_monitor.identity import BrandAliases, normalise_model
from pricing_monitor.models import BrandAlias
from pricing_monitor.policy import DEFAULT_POLICY, DEFAULT_POLICY_KEY, SOURCES, BaselinePolicy

COLUMNS = (
    "source",
    "platform",
    "self_operated",
    "brand",
    "model",
    "gtin",
    "platform_sku",
    "price",
    "observed_at",
    "url",
    "evidence_sha256",
)
_TRUE = {"true", "1", "yes", "y", "是"}
CLOCK_SKEW = dt.timedelta(minutes=5)


async def canonical_brands(session: AsyncSession, brands: Iterable[str]) -> dict[str, str]:
    """Folded brand → canonical brand, for the given folded brands (identity when no alias)."""
    wanted = set(brands)
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(BrandAlias.alias, BrandAlias.canonical).where(BrandAlias.alias.in_(wanted))
        )
    ).all()
    found = dict(rows)
    return {b: found.get(b, b) for b in wanted}


async def load_aliases(session: AsyncSession) -> BrandAliases:
    rows = (await session.execute(select(BrandAlias.alias, BrandAlias.canonical))).all()
    return BrandAliases({alias: canonical for alias, canonical in rows})


def rows_from_json_lines(content: str) -> list[dict[str, Any]]:
    """One JSON object per line; a line that is not one becomes an empty (invalid) row."""
    rows: list[dict[str, Any]] = []
    for line in content.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = {}
        rows.append(value if isinstance(value, dict) else {})
    return rows


def rows_from_csv(text: str) -> list[dict[str, Any]]:
    """The rows of a CSV text by column name; a malformed file raises ``csv.Error``."""
    return [dict(row) for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))]


# Per-row error codes with their English and Chinese messages.
_MESSAGES = {
    "invalid_character": ("contains a NUL character", "含有不允许的空字符（NUL）"),
    "unknown_source": (
        f"one of {', '.join(SOURCES)}",
        f"来源须为 {'、'.join(SOURCES)} 之一",
    ),
    "missing_identity": (
        "brand and model, or a GTIN, are required",
        "须填写品牌和型号，或商品条码",
    ),
    "invalid": ("8, 12, 13 or 14 digits", "商品条码须为 8、12、13 或 14 位数字"),
    "invalid_price": (
        "a positive amount in yuan with at most 2 decimals",
        "价格须为正数，单位元，最多两位小数",
    ),
    "in_future": ("observed_at is in the future", "观测时间晚于当前时间"),
    "invalid_time": ("ISO 8601 with UTC offset", "观测时间须为带时区的 ISO 8601 格式"),
}
_CENT = Decimal("0.01")
_PRICE_CAP = Decimal("1e10")
# Text kept as given; PostgreSQL refuses NUL in text, so it is a row error.
_TEXT_FIELDS = ("platform", "brand", "model", "platform_sku", "url", "evidence_sha256")


def _error(row: int, field: str, code: str) -> dict[str, Any]:
    message, message_zh = _MESSAGES[code]
    return {"row": row, "field": field, "code": code, "message": message, "message_zh": message_zh}


def _price(value: Any) -> Decimal | None:
    """A positive amount below 10^10 with at most 2 decimals, else None."""
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or price <= 0 or price >= _PRICE_CAP:
        return None
    return price if price == price.quantize(_CENT) else None


def _moment(value: Any) -> dt.datetime | None:
    """An aware time (a datetime or ISO 8601 text with an offset), else None."""
    try:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def validate(
    rows: Iterable[dict[str, Any]], aliases: BrandAliases, now: dt.datetime, *, first: int = 1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows ready to insert, and per-row errors (row numbers start at ``first``).

    Every error names its row, field and a stable code, with an English
    ``message`` and a Chinese ``message_zh``.
    """
    valid, errors = [], []
    latest = now + CLOCK_SKEW
    # A feed repeats its brands (and often its models): normalise each once.
    brands: dict[str, str] = {}
    models: dict[str, str] = {}
    sha256 = hashlib.sha256
    for number, row in enumerate(rows, start=first):
        problems = [
            _error(number, name, "invalid_character")
            for name in _TEXT_FIELDS
            if isinstance(value := row.get(name), str) and "\x00" in value
        ]
        source = str(row.get("source") or "").strip()
        if source not in SOURCES:
            problems.append(_error(number, "source", "unknown_source"))
        brand, model = str(row.get("brand") or "").strip(), str(row.get("model") or "").strip()
        gtin = str(row.get("gtin") or "").strip() or None
        if not gtin and not (brand and model):
            problems.append(_error(number, "model", "missing_identity"))
        if gtin and not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
            problems.append(_error(number, "gtin", "invalid"))
        price = _price(row.get("price"))
        if price is None:
            problems.append(_error(number, "price", "invalid_price"))
        moment = _moment(row.get("observed_at"))
        if moment is None:
            problems.append(_error(number, "observed_at", "invalid_time"))
        elif moment > latest:
            problems.append(_error(number, "observed_at", "in_future"))
        if problems or price is None or moment is None:
            errors.extend(problems)
            continue
        platform = str(row.get("platform") or "").strip() or source
        self_operated = row.get("self_operated")
        self_operated = (
            self_operated
            if isinstance(self_operated, bool)
            else str(self_operated or "").strip().lower() in _TRUE
        )
        url = str(row.get("url") or "").strip()[:1000]
        brand_norm = brands.get(brand)
        if brand_norm is None:
            brand_norm = brands[brand] = aliases.normalise(brand)
        model_norm = models.get(model)
        if model_norm is None:
            model_norm = models[model] = normalise_model(model)
        identity = "|".join(
            [source, platform, brand_norm, model_norm, gtin or "", str(price), moment.isoformat()]
        )
        valid.append(
            {
                "source": source,
                "platform": platform[:50],
                "self_operated": self_operated,
                "brand": brand[:100],
                "model": model[:100],
                "brand_norm": brand_norm[:100],
                "model_norm": model_norm[:100],
                "gtin": gtin,
                "platform_sku": (str(row.get("platform_sku") or "").strip()[:64] or None),
                "price": price,
                "observed_at": moment,
                "url": url,
                "evidence_sha256": str(row.get("evidence_sha256") or "")[:64]
                or sha256(f"{url}|{identity}".encode()).hexdigest(),
                "dedupe_key": sha256(identity.encode()).hexdigest(),
            }
        )
    return valid, errors


# The columns an import fills, in the staging table's order.
_STAGED = (
    "id",
    "source",
    "platform",
    "self_operated",
    "brand",
    "model",
    "brand_norm",
    "model_norm",
    "gtin",
    "platform_sku",
    "price",
    "observed_at",
    "url",
    "evidence_sha256",
    "dedupe_key",
)
_STAGE = "price_observation_stage"
_MOVE_STAGED = (  # noqa: S608 -- the column and table names are constants
    "WITH added AS (INSERT INTO price_observation ({columns}, created_at, updated_at)"
    " SELECT {columns}, now(), now() FROM {stage}"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING 1) SELECT count(*) FROM added"
).format(columns=", ".join(_STAGED), stage=_STAGE)


async def store(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert new observations; ones seen before are skipped. Returns how many were new.

    Set-based whatever the size: the rows are copied (binary COPY) into a
    staging table of this connection, then moved in one ``INSERT ... SELECT``
    that skips known ``dedupe_key``s (duplicates within the rows included).
    """
    if not rows:
        return 0
    await session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (id uuid, source text, platform text,"
            " self_operated boolean, brand text, model text, brand_norm text, model_norm text,"
            " gtin text, platform_sku text, price numeric(12, 2), observed_at timestamptz,"
            " url text, evidence_sha256 text, dedupe_key text) ON COMMIT DELETE ROWS"
        )
    )
    await session.execute(text(f"TRUNCATE {_STAGE}"))
    values = operator.itemgetter(*_STAGED[1:])
    records = [(str(uuid7()), *values(row)) for row in rows]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(_STAGE, records=records, columns=_STAGED)
    return int((await session.execute(text(_MOVE_STAGED))).scalar_one())


# A product known by its GTIN alone (an observation with no brand and model) is
# kept under this model key with an empty brand; the scan finds it by GTIN.
GTIN_KEY = "gtin:"


def identity_key(row: dict[str, Any]) -> tuple[str, str] | None:
    """The identity an observation row counts for: brand and model, else its GTIN."""
    if row.get("brand_norm") and row.get("model_norm"):
        return (row["brand_norm"], row["model_norm"])
    if row.get("gtin"):
        return ("", GTIN_KEY + row["gtin"])
    return None


# One statement per policy: each wanted identity's observations (by brand and
# model, or by GTIN for a GTIN-only product), the latest fresh one per source
# and platform among those the policy counts, their aggregate, the upsert of
# the baseline, and a history row where its value changed. The same result as
# ``policy.compute_baseline`` over each identity's observations.
_RECOMPUTE = """
WITH wanted AS (
    SELECT DISTINCT w.brand_norm, w.model_norm
    FROM unnest(CAST(:brands AS text[]), CAST(:models AS text[])) AS w(brand_norm, model_norm)
),
seen AS (
    SELECT w.brand_norm, w.model_norm, o.id, o.source, o.platform, o.self_operated, o.price,
           o.observed_at, o.gtin
    FROM wanted w JOIN price_observation o
      ON o.brand_norm = w.brand_norm AND o.model_norm = w.model_norm
    WHERE w.brand_norm <> '' OR w.model_norm NOT LIKE 'gtin:%'
    UNION ALL
    SELECT w.brand_norm, w.model_norm, o.id, o.source, o.platform, o.self_operated, o.price,
           o.observed_at, o.gtin
    FROM wanted w JOIN price_observation o ON o.gtin = substr(w.model_norm, 6)
    WHERE w.brand_norm = '' AND w.model_norm LIKE 'gtin:%'
),
gtins AS (
    SELECT brand_norm, model_norm, max(gtin) AS gtin FROM seen GROUP BY brand_norm, model_norm
),
used AS (
    SELECT DISTINCT ON (brand_norm, model_norm, source, platform)
           brand_norm, model_norm, platform, price
    FROM seen
    WHERE source = ANY(CAST(:sources AS text[]))
      AND (self_operated OR NOT :self_operated_only OR source <> 'ecommerce')
      AND observed_at <= :now AND observed_at >= :since
    ORDER BY brand_norm, model_norm, source, platform, observed_at DESC, id DESC
),
ranked AS (
    SELECT u.*,
           row_number() OVER (PARTITION BY brand_norm, model_norm ORDER BY price) AS position,
           count(*) OVER (PARTITION BY brand_norm, model_norm) AS n
    FROM used u
),
computed AS (
    SELECT r.brand_norm, r.model_norm, g.gtin,
           round(CASE CAST(:aggregate AS text)
               WHEN 'min' THEN min(r.price)
               WHEN 'mean' THEN avg(r.price)
               ELSE avg(r.price) FILTER (
                   WHERE r.position IN ((r.n + 1) / 2, (r.n + 2) / 2))
           END, 2) AS price,
           count(*) AS observations,
           left(string_agg(DISTINCT r.platform, ',' ORDER BY r.platform), 100) AS source
    FROM ranked r JOIN gtins g USING (brand_norm, model_norm)
    GROUP BY r.brand_norm, r.model_norm, g.gtin
    HAVING count(*) >= :min_observations
),
upserted AS (
    INSERT INTO market_baseline (id, brand_norm, model_norm, policy_key, gtin, price,
                                 observations, source, computed_at, created_at, updated_at)
    SELECT gen_random_uuid(), brand_norm, model_norm, CAST(:key AS text), gtin, price,
           observations, source, CAST(:now AS timestamptz), CAST(:now AS timestamptz),
           CAST(:now AS timestamptz)
    FROM computed
    ON CONFLICT (brand_norm, model_norm, policy_key) DO UPDATE SET
        price = excluded.price, observations = excluded.observations, source = excluded.source,
        computed_at = excluded.computed_at, gtin = excluded.gtin, updated_at = excluded.updated_at
    RETURNING brand_norm, model_norm, price, observations
),
history AS (
    INSERT INTO market_baseline_change (id, brand_norm, model_norm, policy_key, price,
                                        observations, computed_at, created_at, updated_at)
    SELECT gen_random_uuid(), u.brand_norm, u.model_norm, CAST(:key AS text), u.price,
           u.observations, CAST(:now AS timestamptz), CAST(:now AS timestamptz),
           CAST(:now AS timestamptz)
    FROM upserted u
    LEFT JOIN LATERAL (
        SELECT c.price FROM market_baseline_change c
        WHERE c.brand_norm = u.brand_norm AND c.model_norm = u.model_norm
          AND c.policy_key = :key
        ORDER BY c.computed_at DESC LIMIT 1
    ) last ON true
    WHERE last.price IS DISTINCT FROM u.price
)
SELECT count(*) FROM upserted
"""


async def recompute_baselines(
    session: AsyncSession,
    identities: set[tuple[str, str]],
    now: dt.datetime,
    policy: BaselinePolicy = DEFAULT_POLICY,
    *,
    only: dict[str, BaselinePolicy] | None = None,
) -> int:
    """Recompute the stored baselines of each identity (see ``identity_key``).

    Every policy in use is computed, or only the ``only`` ones: one set-based
    statement per policy, whatever the number of identities. Returns how many
    baselines were written.
    """
    if not identities:
        return 0
    policies = only if only is not None else await policies_in_use(session, policy)
    brands, models = zip(*sorted(identities), strict=True)
    written = 0
    for key, each in policies.items():
        written += (
            await session.execute(
                text(_RECOMPUTE),
                {
                    "brands": list(brands),
                    "models": list(models),
                    "sources": sorted(each.sources),
                    "self_operated_only": each.self_operated_only,
                    "aggregate": each.aggregate,
                    "min_observations": each.min_observations,
                    "since": now - dt.timedelta(days=each.freshness_days),
                    "now": now,
                    "key": key,
                },
            )
        ).scalar_one()
    return written


async def all_identities(session: AsyncSession) -> set[tuple[str, str]]:
    """Every identity observed: brand and model pairs, and GTIN-only products."""
    pairs = (
        await session.execute(
            text(
                "SELECT DISTINCT brand_norm, model_norm FROM price_observation"
                " WHERE brand_norm <> '' AND model_norm <> ''"
            )
        )
    ).all()
    gtins = (
        await session.execute(
            text(
                "SELECT DISTINCT gtin FROM price_observation"
                " WHERE gtin IS NOT NULL AND (brand_norm = '' OR model_norm = '')"
            )
        )
    ).all()
    return {(b, m) for b, m in pairs} | {("", GTIN_KEY + g) for (g,) in gtins}


async def policies_in_use(
    session: AsyncSession, default: BaselinePolicy = DEFAULT_POLICY
) -> dict[str, BaselinePolicy]:
    """The default policy and every policy a category sets, by key."""
    rows = (
        await session.execute(
            text(
                "SELECT DISTINCT price_policy_key, price_policy FROM category"
                " WHERE price_policy IS NOT NULL"
            )
        )
    ).all()
    policies = {DEFAULT_POLICY_KEY: default}
    for key, settings in rows:
        policies[key] = BaselinePolicy.from_dict(settings)
    return policies
