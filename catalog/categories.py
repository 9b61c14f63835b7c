"""Categories (品目) keyed by procurement catalogue code, their attribute
schemas and policies; and the demo set the mall seeds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.errors import CatalogInvalid, CatalogNotFound
from catalog.models import Category
from pricing_monitor.policy import policy_key
from review_rules import AttributeSpec, CategorySpec

ATTRIBUTE_TYPES = ("text", "number", "enum", "bool")
_CODE = re.compile(r"^[ABC]\d{0,12}$")


def _attr(
    name: str,
    type_: str,
    *,
    unit: str | None = None,
    required: bool = False,
    allowed: Sequence[str] = (),
    min_: float | None = None,
    max_: float | None = None,
    pattern: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "unit": unit,
        "required": required,
        "allowed_values": list(allowed),
        "min": min_,
        "max": max_,
        "pattern": pattern,
    }


def validate_attributes(attributes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Problems with an attribute schema, as (field, message) dicts."""
    errors = []
    names = set()
    for i, a in enumerate(attributes):
        where = f"attributes[{i}]"
        if not str(a.get("name", "")).strip():
            errors.append({"field": f"{where}.name", "message": "empty"})
        if a.get("name") in names:
            errors.append({"field": f"{where}.name", "message": "duplicate"})
        names.add(a.get("name"))
        if a.get("type") not in ATTRIBUTE_TYPES:
            errors.append(
                {"field": f"{where}.type", "message": f"one of {', '.join(ATTRIBUTE_TYPES)}"}
            )
        if a.get("type") == "enum" and not a.get("allowed_values"):
            errors.append(
                {"field": f"{where}.allowed_values", "message": "an enum needs its values"}
            )
        if a.get("pattern"):
            try:
                re.compile(a["pattern"])
            except re.error:
                errors.append({"field": f"{where}.pattern", "message": "not a regular expression"})
    return errors


def to_spec(category: Category) -> CategorySpec:
    """The category as the rules see it."""
    return CategorySpec(
        code=category.code,
        name_zh=category.name_zh,
        attributes=tuple(
            AttributeSpec(
                name=a["name"],
                type=a["type"],
                unit=a.get("unit"),
                required=bool(a.get("required")),
                allowed_values=tuple(a.get("allowed_values") or ()),
                min=Decimal(str(a["min"])) if a.get("min") is not None else None,
                max=Decimal(str(a["max"])) if a.get("max") is not None else None,
                pattern=a.get("pattern"),
            )
            for a in category.attributes
        ),
        energy_cert_mandatory=category.energy_cert_mandatory,
        usual_units=frozenset(category.usual_units),
        min_image_side_px=category.min_image_side_px,
        price_tolerance_pct=category.price_tolerance_pct,
    )


async def get(session: AsyncSession, code: str) -> Category:
    category = (await session.scalars(select(Category).where(Category.code == code))).one_or_none()
    if category is None:
        raise CatalogNotFound(
            f"No category {code}.",
            code="catalog.category_not_found",
            title="品目不存在",
            errors=[{"field": "category_code", "message": "unknown category"}],
        )
    return category


async def list_all(session: AsyncSession, *, listable_only: bool = False) -> Sequence[Category]:
    query = select(Category).order_by(Category.code)
    if listable_only:
        query = query.where(Category.listable.is_(True))
    return (await session.scalars(query)).all()


async def upsert(session: AsyncSession, data: dict[str, Any]) -> tuple[Category, bool]:
    """Create or replace a category (operators); returns (category, created)."""
    errors = validate_attributes(data.get("attributes", []))
    if not _CODE.match(data.get("code", "")):
        errors.append({"field": "code", "message": "a catalogue code such as A02010104"})
    try:
        data["price_policy_key"] = policy_key(data.get("price_policy"))
    except (TypeError, ValueError) as exc:
        errors.append({"field": "price_policy", "message": str(exc)})
    if errors:
        raise CatalogInvalid(
            "The category is not valid; see errors.",
            code="catalog.category_invalid",
            title="品目信息有误",
            errors=errors,
        )
    existing = (
        await session.scalars(select(Category).where(Category.code == data["code"]))
    ).one_or_none()
    category = existing or Category(code=data["code"])
    for key, value in data.items():
        setattr(category, key, value)
    if existing is None:
        session.add(category)
    await session.flush()
    return category, existing is None


def _cat(
    code: str,
    parent: str | None,
    zh: str,
    en: str,
    attributes: list[dict[str, Any]] | None = None,
    *,
    units: Sequence[str] = (),
    energy: bool = False,
    env: bool = False,
    tolerance: str = "5",
    listable: bool = True,
    min_px: int | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "parent_code": parent,
        "name_zh": zh,
        "name_en": en,
        "attributes": attributes or [],
        "usual_units": list(units),
        "energy_cert_mandatory": energy,
        "environmental_label_preferred": env,
        "price_tolerance_pct": Decimal(tolerance),
        "listable": listable,
        "min_image_side_px": min_px,
    }


_CPU = _attr("CPU型号", "text", required=True)
_RAM = _attr("内存容量", "number", unit="GB", required=True, min_=4, max_=1024)
_DISK = _attr("硬盘容量", "number", unit="GB", required=True, min_=128, max_=65536)
_OS = _attr("操作系统", "enum", allowed=("国产操作系统", "Windows", "无"))
_FORMAT = _attr("最大打印幅面", "enum", required=True, allowed=("A4", "A3"))
_SPEED = _attr("打印速度", "number", unit="页/分钟", required=True, min_=1, max_=200)

DEMO_CATEGORIES: list[dict[str, Any]] = [
    _cat("A", None, "货物", "Goods", listable=False),
    _cat("A02", "A", "通用设备", "General equipment", listable=False),
    _cat("A0201", "A02", "计算机设备及软件", "Computers and software", listable=False),
    _cat(
        "A02010103",
        "A0201",
        "服务器",
        "Servers",
        [_CPU, _RAM, _DISK, _attr("CPU数量", "number", required=True, min_=1, max_=16)],
        units=("台",),
    ),
    _cat(
        "A02010104",
        "A0201",
        "台式计算机",
        "Desktop computers",
        [
            _CPU,
            _RAM,
            _DISK,
            _OS,
            _attr("显示器尺寸", "number", unit="英寸", min_=0, max_=49),
            _attr("能效等级", "enum", allowed=("1级", "2级", "3级")),
        ],
        units=("台", "套"),
        energy=True,
        env=True,
    ),
    _cat(
        "A02010105",
        "A0201",
        "便携式计算机",
        "Laptop computers",
        [
            _CPU,
            _RAM,
            _DISK,
            _OS,
            _attr("屏幕尺寸", "number", unit="英寸", required=True, min_=10, max_=18),
            _attr("重量", "number", unit="kg", min_=0.5, max_=5),
        ],
        units=("台",),
        energy=True,
        env=True,
    ),
    _cat("A020106", "A0201", "输入输出设备", "Input and output devices", listable=False),
    _cat(
        "A0201060101",
        "A020106",
        "喷墨打印机",
        "Inkjet printers",
        [_SPEED, _FORMAT, _attr("彩色打印", "bool", required=True)],
        units=("台",),
        energy=True,
    ),
    _cat(
        "A0201060102",
        "A020106",
        "激光打印机",
        "Laser printers",
        [_SPEED, _FORMAT, _attr("双面打印", "bool", required=True), _attr("网络打印", "bool")],
        units=("台",),
        energy=True,
        env=True,
    ),
    _cat(
        "A0201060104",
        "A020106",
        "针式打印机",
        "Dot-matrix printers",
        [
            _attr("打印列数", "enum", required=True, allowed=("80", "106", "136")),
            _attr("复写能力", "number", unit="联", min_=1, max_=7),
        ],
        units=("台",),
        energy=True,
    ),
    _cat("A0202", "A02", "办公设备", "Office equipment", listable=False),
    _cat(
        "A020201",
        "A0202",
        "复印机",
        "Copiers",
        [_attr("复印速度", "number", unit="页/分钟", required=True, min_=1, max_=200), _FORMAT],
        units=("台",),
        energy=True,
        env=True,
    ),
    _cat(
        "A020204",
        "A0202",
        "多功能一体机",
        "Multifunction printers",
        [_SPEED, _FORMAT, _attr("功能", "text", required=True)],
        units=("台",),
        energy=True,
        env=True,
    ),
    _cat("A0206", "A02", "电气设备", "Electrical equipment", listable=False),
    _cat(
        "A0206180203",
        "A0206",
        "空调机",
        "Air conditioners",
        [
            _attr("制冷量", "number", unit="W", required=True, min_=1000, max_=50000),
            _attr("能效等级", "enum", required=True, allowed=("1级", "2级", "3级")),
            _attr("类型", "enum", required=True, allowed=("壁挂式", "柜式", "吸顶式", "风管式")),
            _attr("变频", "bool", required=True),
        ],
        units=("台", "套"),
        energy=True,
        env=True,
        tolerance="8",
    ),
    _cat("A06", "A", "家具用具", "Furniture", listable=False),
    _cat(
        "A060201",
        "A06",
        "办公椅",
        "Office chairs",
        [
            _attr("材质", "enum", required=True, allowed=("网布", "皮革", "布艺", "实木")),
            _attr("扶手", "bool"),
            _attr("承重", "number", unit="kg", min_=50, max_=300),
        ],
        units=("把", "张"),
        env=True,
        tolerance="10",
    ),
    _cat("A09", "A", "办公消耗用品", "Office consumables", listable=False),
    _cat(
        "A090101",
        "A09",
        "复印纸",
        "Copy paper",
        [
            _FORMAT | {"name": "幅面"},
            _attr("克重", "number", unit="g/m²", required=True, min_=60, max_=120),
            _attr("每包张数", "number", required=True, min_=100, max_=1000),
            _attr("每箱包数", "number", min_=1, max_=20),
        ],
        units=("包", "箱"),
        env=True,
        tolerance="3",
    ),
    _cat(
        "A090201",
        "A09",
        "硒鼓",
        "Toner cartridges",
        [
            _attr("适用机型", "text", required=True),
            _attr("打印页数", "number", unit="页", required=True, min_=100, max_=100000),
            _attr("颜色", "enum", allowed=("黑色", "青色", "品红", "黄色")),
        ],
        units=("个", "支"),
        tolerance="5",
    ),
    _cat(
        "A090202",
        "A09",
        "墨粉",
        "Toner",
        [
            _attr("适用机型", "text", required=True),
            _attr("容量", "number", unit="g", required=True, min_=10, max_=2000),
        ],
        units=("瓶", "支", "个"),
        tolerance="5",
    ),
]


async def seed_demo_categories(session: AsyncSession) -> int:
    """Create the demo categories that do not exist; returns how many were created."""
    existing = set((await session.scalars(select(Category.code))).all())
    created = 0
    for data in DEMO_CATEGORIES:
        if data["code"] not in existing:
            await upsert(session, dict(data))
            created += 1
    return created
