"""Bulk listing files: the per-category template, reading CSV and XLSX, and
turning each row into listing content or per-cell errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from catalog.errors import CatalogInvalid
from catalog.listings import check_content
from catalog.models import Listing, ListingRevision, MediaImage
from catalog.review import facts_digest, findings_json, market_assessment
from pricing_monitor.models import MarketBaseline
from pricing_monitor.observations import canonical_brands
from review_rules import (
    CategorySpec,
    ImageFacts,
    ImageReuse,
    ListingFacts,
    Ruleset,
    SupplierFacts,
    evaluate,
    normalise_model,
)
from review_rules.text import normalise, strip_invisible

FIELDS = (
    "category_code",
    "brand",
    "model",
    "title",
    "price",
    "unit",
    "stock",
    "warranty_months",
    "gtin",
    "manufacturer",
    "energy_cert_no",
    "after_sales",
    "images",
)
REQUIRED = ("brand", "model", "title", "price", "unit")
FIELD_NAMES_ZH = {
    "category_code": "品目编码",
    "brand": "品牌",
    "model": "型号",
    "title": "商品标题",
    "price": "单价（元）",
    "unit": "计量单位",
    "stock": "库存",
    "warranty_months": "质保期（月）",
    "gtin": "商品条码",
    "manufacturer": "制造商",
    "energy_cert_no": "节能产品认证证书编号",
    "after_sales": "售后服务承诺",
    "images": "商品图片（第一张为主图）：压缩包内的文件名，或图片库的 media:<编号>，多张用 ; 分隔",
}
IMAGE_SEPARATORS = re.compile(r"[;；|\n]+")
MAX_IMAGES_PER_ROW = 10
ATTRIBUTE_PREFIX = "attr:"
_TRUE = {"true", "1", "是", "有", "yes", "y"}
_FALSE = {"false", "0", "否", "无", "no", "n"}


def template(spec: CategorySpec) -> bytes:
    """An XLSX with the column keys, a Chinese header line, and a notes sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "listings"
    columns = list(FIELDS) + [f"{ATTRIBUTE_PREFIX}{a.name}" for a in spec.attributes]
    sheet.append(columns)
    notes = workbook.create_sheet("说明")
    notes.append(["列 column", "说明 meaning", "必填 required"])
    for name in FIELDS:
        notes.append([name, FIELD_NAMES_ZH[name], "是" if name in REQUIRED else ""])
    for a in spec.attributes:
        meaning = (
            f"{a.type}"
            + (f"，单位 {a.unit}" if a.unit else "")
            + (f"，可选值 {'/'.join(a.allowed_values)}" if a.allowed_values else "")
        )
        notes.append([f"{ATTRIBUTE_PREFIX}{a.name}", meaning, "是" if a.required else ""])
    notes.append([])
    notes.append(["category_code", f"留空即为 {spec.code}（{spec.name_zh}）", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CatalogInvalid(
        "The CSV file is neither UTF-8 nor GB18030.",
        code="catalog.import_encoding",
        title="文件编码无法识别",
        errors=[{"field": "file", "message": "use UTF-8"}],
    )


def read_rows(content: bytes, file_format: str) -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows) of a CSV or XLSX file; malformed files are a 422."""
    try:
        if file_format == "csv":
            # newline="": a carriage return inside a line is the csv module's to judge;
            # the rows are read here so that a malformed line is a 422 now, not a
            # failure of the import's job later.
            lines = list(csv.reader(io.StringIO(_decode(content), newline="")))
            header = lines[0] if lines else []
            return [h.strip() for h in header], iter(lines[1:])
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        return header, (list(r) for r in rows)
    except CatalogInvalid:
        raise
    except Exception as exc:
        raise CatalogInvalid(
            f"The file cannot be read: {exc}",
            code="catalog.import_unreadable",
            title="文件无法读取",
            errors=[{"field": "file", "message": str(exc)[:200]}],
        ) from None


def check_header(header: list[str]) -> None:
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CatalogInvalid(
            "The file lacks required columns.",
            code="catalog.import_columns",
            title="文件缺少必需的列",
            errors=[{"field": "file", "message": f"missing: {', '.join(missing)}"}],
        )


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _attribute(spec_type: str, raw: str) -> Any:
    if spec_type == "number":
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return raw  # the rules' checker names it
        return int(number) if number == number.to_integral_value() else float(number)
    if spec_type == "bool":
        lowered = raw.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else raw
    return raw


def parse_row(  # noqa: PLR0912 - one flat check per column
    header: list[str], values: list[Any], spec: CategorySpec, row_number: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Listing content from one row, or the row's errors (row, column, code, message)."""
    cells = {
        name: _cell(values[i]) if i < len(values) else "" for i, name in enumerate(header) if name
    }
    errors: list[dict[str, Any]] = []

    def error(column: str, code: str, message: str) -> None:
        errors.append({"row": row_number, "column": column, "code": code, "message": message})

    for name in REQUIRED:
        if not cells.get(name):
            error(name, "required", f"{FIELD_NAMES_ZH[name]}不能为空 / {name} is required")
    content: dict[str, Any] = {"category_code": cells.get("category_code") or spec.code}
    for name in (
        "brand",
        "model",
        "title",
        "unit",
        "gtin",
        "manufacturer",
        "energy_cert_no",
        "after_sales",
    ):
        if cells.get(name):
            content[name] = strip_invisible(cells[name])
    limits = {
        "brand": 100,
        "model": 100,
        "title": 200,
        "unit": 8,
        "gtin": 14,
        "manufacturer": 200,
        "energy_cert_no": 64,
    }
    for name, limit in limits.items():
        if len(content.get(name) or "") > limit:
            error(
                name, "too_long", f"{FIELD_NAMES_ZH[name]}超过 {limit} 个字符 / longer than {limit}"
            )
    if cells.get("price"):
        try:
            content["price"] = Decimal(cells["price"])
        except InvalidOperation:
            error("price", "invalid", "单价须为数字 / price must be a number")
    for name in ("stock", "warranty_months"):
        if cells.get(name):
            try:
                content[name] = int(Decimal(cells[name]))
            except (InvalidOperation, ValueError):
                error(name, "invalid", f"{FIELD_NAMES_ZH[name]}须为整数 / must be a whole number")
    types = {a.name: a.type for a in spec.attributes}
    attributes = {}
    for name, raw in cells.items():
        if name.startswith(ATTRIBUTE_PREFIX) and raw:
            key = name[len(ATTRIBUTE_PREFIX) :]
            attributes[key] = _attribute(types.get(key, "text"), raw)
    content["attributes"] = attributes
    references = [r.strip() for r in IMAGE_SEPARATORS.split(cells.get("images", "")) if r.strip()]
    if len(references) > MAX_IMAGES_PER_ROW:
        error(
            "images",
            "too_many",
            f"每个商品最多 {MAX_IMAGES_PER_ROW} 张图片 / at most {MAX_IMAGES_PER_ROW} images",
        )
    content["images"] = references
    if content["category_code"] != spec.code:
        error(
            "category_code",
            "category",
            f"本模板只接受品目 {spec.code} / this file is for category {spec.code}",
        )
    if errors:
        return None, errors
    try:
        check_content(spec, content)
    except CatalogInvalid as exc:
        for e in exc.errors:
            column = e["field"].replace("attributes.", ATTRIBUTE_PREFIX)
            error(column, "invalid", e["message"])
        return None, errors
    return content, []


def media_reference(reference: str) -> uuid.UUID | None:
    """The media library id named by ``media:<id>`` (or a bare id), else None (a file name)."""
    text_form = reference[len("media:") :] if reference.lower().startswith("media:") else reference
    try:
        return uuid.UUID(text_form.strip())
    except ValueError:
        return None


async def reused_by_phash(
    session: AsyncSession, supplier_id: uuid.UUID, phashes: list[str], max_distance: int
) -> dict[str, list[ImageReuse]]:
    """Other suppliers' ready images within ``max_distance`` of each hash, in one query."""
    if not phashes:
        return {}
    rows = await session.execute(
        text(
            """
            SELECT mine, other.supplier_id, other.listing_id,
                   min(bit_count(CAST(('x' || other.phash) AS bit(64))
                                 # CAST(('x' || mine) AS bit(64)))) AS distance
            FROM listing_image other, unnest(CAST(:mine AS text[])) AS mine
            WHERE other.status = 'ready' AND other.phash IS NOT NULL
              AND other.supplier_id <> :supplier
              AND bit_count(CAST(('x' || other.phash) AS bit(64))
                            # CAST(('x' || mine) AS bit(64))) <= :limit
            GROUP BY mine, other.supplier_id, other.listing_id
            """
        ),
        {"mine": sorted(set(phashes)), "supplier": supplier_id, "limit": max_distance},
    )
    found: dict[str, list[ImageReuse]] = {}
    for r in rows:
        found.setdefault(r.mine, []).append(
            ImageReuse(str(r.supplier_id), str(r.listing_id), int(r.distance))
        )
    return found


async def store_batch(
    session: AsyncSession,
    supplier_id: uuid.UUID,
    spec: CategorySpec,
    rows: list[dict[str, Any]],
    supplier: SupplierFacts,
    ruleset: Ruleset,
    policy_key: str = "default",
    *,
    images: list[list[MediaImage]] | None = None,
    import_id: uuid.UUID | None = None,
    row_numbers: list[int] | None = None,
) -> tuple[Counter[str], list[uuid.UUID]]:
    """Create, submit and review a batch of valid rows in a few set-based statements.

    Market baselines, the supplier's live listings and other suppliers' images
    like the rows' images are read once per batch; rows of the batch that repeat
    an earlier row (same brand, model and key attributes) are duplicates of it.
    ``images`` gives each row its library images (the first is the main image).
    Returns the outcomes and the listing ids.
    """
    images = images or [[] for _ in rows]
    reused = await reused_by_phash(
        session,
        supplier_id,
        [m.phash for row_images in images for m in row_images],
        ruleset.image_reuse_max_distance,
    )
    now = dt.datetime.now(dt.UTC)
    derived = [
        {"brand_norm": normalise(r["brand"]).strip(), "model_norm": normalise_model(r["model"])}
        for r in rows
    ]
    keys = {(d["brand_norm"], d["model_norm"]) for d in derived}
    canonical = await canonical_brands(session, {d["brand_norm"] for d in derived})
    market_keys = {(canonical[b], m) for b, m in keys}
    baselines = {
        (b.brand_norm, b.model_norm): b
        for b in (
            await session.scalars(
                select(MarketBaseline).where(
                    tuple_(MarketBaseline.brand_norm, MarketBaseline.model_norm).in_(
                        list(market_keys)
                    ),
                    MarketBaseline.policy_key == policy_key,
                )
            )
        ).all()
    }
    key_attributes = [a.name for a in spec.attributes if a.required]

    def signature(brand_norm: str, model_norm: str, attributes: dict[str, Any]) -> tuple[Any, ...]:
        return (brand_norm, model_norm, *(str(attributes.get(k)) for k in key_attributes))

    live: dict[tuple[Any, ...], str] = {}
    for listing_id, revision in (
        await session.execute(
            select(Listing.id, ListingRevision)
            .join(ListingRevision, ListingRevision.id == Listing.live_revision_id)
            .where(
                Listing.supplier_id == supplier_id,
                Listing.delisted_at.is_(None),
                tuple_(ListingRevision.brand_norm, ListingRevision.model_norm).in_(list(keys)),
            )
        )
    ).all():
        live[signature(revision.brand_norm, revision.model_norm, revision.attributes)] = str(
            listing_id
        )

    listings_rows, revision_rows, decision_rows, image_rows = [], [], [], []
    outcomes: Counter[str] = Counter()
    seen: dict[tuple[Any, ...], str] = {}
    ids = []
    numbers = row_numbers or [None] * len(rows)
    for content, norms, row_images, row_number in zip(rows, derived, images, numbers, strict=True):
        listing_id, revision_id = uuid.UUID(str(uuid7())), uuid.UUID(str(uuid7()))
        ids.append(listing_id)
        closest: dict[tuple[str, str], ImageReuse] = {}
        for m in row_images:
            for r in reused.get(m.phash, []):
                key = (r.other_supplier_id, r.other_listing_id)
                if key not in closest or r.distance < closest[key].distance:
                    closest[key] = r
        market = market_assessment(
            baselines.get((canonical[norms["brand_norm"]], norms["model_norm"])),
            content["price"],
            spec.price_tolerance_pct,
            ruleset.abnormally_low_pct,
            now,
        )
        sig = signature(norms["brand_norm"], norms["model_norm"], content["attributes"])
        duplicates = tuple(d for d in (live.get(sig), seen.get(sig)) if d)
        seen.setdefault(sig, str(listing_id))
        facts = ListingFacts(
            listing_id=str(listing_id),
            title=content["title"],
            brand=content["brand"],
            model=content["model"],
            category=spec,
            attributes=content["attributes"],
            price=content["price"],
            unit=content["unit"],
            supplier=supplier,
            market=market,
            gtin=content.get("gtin"),
            energy_cert_no=content.get("energy_cert_no"),
            duplicates_of=duplicates,
            images=tuple(
                ImageFacts(m.width, m.height, m.phash, m.border_whiteness) for m in row_images
            ),
            reused_images=tuple(sorted(closest.values(), key=lambda r: r.distance)),
        )
        decision = evaluate(facts, ruleset)
        outcome = decision.outcome.value
        outcomes[outcome] += 1
        stamp = {"created_at": now, "updated_at": now}
        listings_rows.append(
            {
                "id": listing_id,
                "supplier_id": supplier_id,
                "category_code": spec.code,
                "status": outcome,
                "live_revision_id": revision_id if outcome == "approved" else None,
                "current_revision_id": revision_id,
                "import_id": import_id,
                "import_row": row_number,
                **stamp,
            }
        )
        image_rows.extend(
            {
                "id": uuid.UUID(str(uuid7())),
                "listing_id": listing_id,
                "supplier_id": supplier_id,
                "position": position,
                "status": "ready",
                "original_sha256": m.original_sha256,
                "sha256": m.sha256,
                "media_type": m.media_type,
                "width": m.width,
                "height": m.height,
                "phash": m.phash,
                "border_whiteness": m.border_whiteness,
                "thumbnails": m.thumbnails,
                **stamp,
            }
            for position, m in enumerate(row_images)
        )
        revision_rows.append(
            {
                "id": revision_id,
                "listing_id": listing_id,
                "supplier_id": supplier_id,
                "number": 1,
                "status": outcome,
                "category_code": spec.code,
                "brand": content["brand"],
                "model": content["model"],
                "title": content["title"],
                "attributes": content["attributes"],
                "price": content["price"],
                "unit": content["unit"],
                "stock": content.get("stock", 0),
                "delivery_regions": [],
                "warranty_months": content.get("warranty_months", 0),
                "after_sales": content.get("after_sales", ""),
                "gtin": content.get("gtin"),
                "manufacturer": content.get("manufacturer"),
                "energy_cert_no": content.get("energy_cert_no"),
                "submitted_at": now,
                "decided_at": now,
                **norms,
                **stamp,
            }
        )
        decision_rows.append(
            {
                "id": uuid.UUID(str(uuid7())),
                "revision_id": revision_id,
                "listing_id": listing_id,
                "outcome": outcome,
                "ruleset_version": decision.ruleset_version,
                "findings": findings_json(decision),
                "facts_sha256": facts_digest(facts),
                "timings_ms": {},
                **stamp,
            }
        )
    await _copy(session, "listing", listings_rows)
    await _copy(session, "listing_revision", revision_rows)
    await _copy(session, "review_decision", decision_rows)
    await _copy(session, "listing_image", image_rows)
    return outcomes, ids


_JSON_COLUMNS = {"attributes", "findings", "timings_ms", "thumbnails"}


async def _copy(session: AsyncSession, table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows into a table inside the session's transaction (JSON as text)."""
    if not rows:
        return
    columns = list(rows[0])
    records = [
        tuple(
            json.dumps(row[c], ensure_ascii=False, default=str) if c in _JSON_COLUMNS else row[c]
            for c in columns
        )
        for row in rows
    ]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table, records=records, columns=columns)
