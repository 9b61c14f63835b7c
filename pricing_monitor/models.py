"""Tables the price monitor owns. Baselines are read by the listing review."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column


class MarketBaseline(UUIDv7AuditBase):
    """The market price of one product identity, as last computed."""

    __tablename__ = "market_baseline"
    __table_args__ = (
        Index("uq_market_baseline_identity", "brand_norm", "model_norm", unique=True),
        Index("ix_market_baseline_gtin", "gtin"),
    )

    brand_norm: Mapped[str] = mapped_column(String(100))
    model_norm: Mapped[str] = mapped_column(String(100))
    gtin: Mapped[str | None] = mapped_column(String(14), default=None)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    observations: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(100))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
