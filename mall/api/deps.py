"""Annotations shared by the HTTP handlers."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

# The request's session (Advanced Alchemy's plugin): committed when the
# handler answers 2xx/3xx, rolled back otherwise.
DbSession: TypeAlias = NamedDependency[AsyncSession]
