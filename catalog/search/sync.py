"""Keeping the search documents fresh: the dirty set, batch sync, full rebuild.

Triggers on ``listing``, ``listing_image`` and ``organisation`` put a listing
in ``search_dirty`` whenever what a purchaser would find changes: approval of
a revision (a new price included), delisting, the first ready image, the
supplier's standing or name. ``sync_dirty`` takes a batch of them (rows
locked, others skip them), writes or removes their documents in every
backend, and clears them in the same transaction: a failed write leaves them
dirty for the next run, so a retry never loses or doubles anything.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.search.documents import (
    ALIAS_GROUPS_SQL,
    COUNT_VISIBLE_SQL,
    SOURCE_BY_IDS_SQL,
    SOURCE_PAGE_SQL,
    Document,
    build_document,
)
from catalog.search.models import SearchSynonym
from catalog.search.query import SearchBackend, synonym_map

_TAKE_DIRTY_SQL = text(
    "SELECT listing_id FROM search_dirty ORDER BY marked_at LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_CLEAR_DIRTY_SQL = text("DELETE FROM search_dirty WHERE listing_id = ANY(:ids)")
_NIL = uuid.UUID(int=0)


async def aliases_of(session: AsyncSession) -> dict[str, list[str]]:
    """Canonical brand → its other names, from the table the price monitor shares."""
    return {canonical: list(names) for canonical, names in await session.execute(ALIAS_GROUPS_SQL)}


async def synonyms(session: AsyncSession) -> dict[str, list[str]]:
    return synonym_map((await session.scalars(select(SearchSynonym.words))).all())


async def documents_for(
    session: AsyncSession, ids: Sequence[uuid.UUID], aliases: Mapping[str, Sequence[str]]
) -> tuple[list[Document], list[uuid.UUID]]:
    """The documents of the visible listings among ``ids``, and the ids with none."""
    rows = (await session.execute(SOURCE_BY_IDS_SQL, {"ids": list(ids)})).mappings().all()
    documents = [build_document(r, aliases) for r in rows]
    visible = {d.listing_id for d in documents}
    return documents, [i for i in ids if i not in visible]


async def sync_dirty(
    session: AsyncSession, backends: Sequence[SearchBackend], limit: int = 1000
) -> int:
    """Rebuild one batch of dirty listings' documents; returns how many were taken."""
    ids = list((await session.scalars(_TAKE_DIRTY_SQL, {"limit": limit})).all())
    if not ids:
        return 0
    documents, gone = await documents_for(session, ids, await aliases_of(session))
    for backend in backends:
        await backend.upsert(documents)
        await backend.delete(gone)
    await session.execute(_CLEAR_DIRTY_SQL, {"ids": ids})
    return len(ids)


async def count_visible(session: AsyncSession) -> int:
    return int((await session.execute(COUNT_VISIBLE_SQL)).scalar_one())


async def all_documents(
    session: AsyncSession, batch: int = 5000, aliases: Mapping[str, Sequence[str]] | None = None
) -> AsyncIterator[list[Document]]:
    """Every visible listing's document, in id order, a batch at a time."""
    aliases = aliases if aliases is not None else await aliases_of(session)
    after: Any = _NIL
    while True:
        rows = (
            (await session.execute(SOURCE_PAGE_SQL, {"after": after, "limit": batch}))
            .mappings()
            .all()
        )
        if not rows:
            return
        yield [build_document(r, aliases) for r in rows]
        after = rows[-1]["listing_id"]
