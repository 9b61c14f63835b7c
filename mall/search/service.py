"""Which search backend serves, and how documents are kept fresh.

PostgreSQL serves unless ``MEILISEARCH_URL`` is set. PostgreSQL's documents
are maintained in every installation (they cost little and the statistics
and tests read them); Meilisearch's as well when it is configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

import structlog
from meilisearch_python_sdk import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import SearchBackend, SearchQuery, SearchResult, sync
from catalog.search.meili import MeilisearchSearch
from catalog.search.postgres import PostgresSearch
from mall.jobs.outbox import WAKE_UP, enqueue_job
from mall.settings import Settings

SYNC_JOB = "search.sync"
SYNC_BATCH = 1000
log = structlog.get_logger("mall.search")


@lru_cache(maxsize=4)
def _meili_client(url: str, key: str | None) -> AsyncClient:
    return AsyncClient(url, key, timeout=10)


def meilisearch(settings: Settings) -> MeilisearchSearch | None:
    url = settings.search.meilisearch_url
    if not url:
        return None
    return MeilisearchSearch(_meili_client(url, settings.search.meilisearch_key))


def backends(session: AsyncSession, settings: Settings) -> list[SearchBackend]:
    """Every backend whose documents must follow the catalogue."""
    out: list[SearchBackend] = [PostgresSearch(session)]
    meili = meilisearch(settings)
    if meili is not None:
        out.append(meili)
    return out


async def search(
    session: AsyncSession, settings: Settings, query: SearchQuery
) -> tuple[SearchResult, float]:
    """The result and how long the backend took, in milliseconds."""
    started = time.perf_counter()
    backend: SearchBackend = meilisearch(settings) or PostgresSearch(session)
    result = await backend.search(query, await sync.synonyms(session))
    return result, round((time.perf_counter() - started) * 1000, 2)


async def request_sync(session: AsyncSession) -> None:
    """Ask for a sync after this transaction commits.

    Commits asking while a wake-up waits in the outbox share it; once it is
    delivered, the next commit's request is a new job, so a sync always
    starts after the change it was asked for committed (none is lost to a
    job that already ran).
    """
    await enqueue_job(session, SYNC_JOB, key=WAKE_UP)


async def sync_all(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    limit: int = 100,
    budget_seconds: float | None = None,
) -> int:
    """Take dirty listings batch by batch (one transaction each) until none is left.

    With a time budget, a sync that has more to do when it runs out asks for
    another one and returns: each batch is committed, so the next job (or a
    job started after this one's worker died) resumes where it stopped.
    """
    done = 0
    started = time.monotonic()
    for _ in range(limit):
        async with session_maker() as session, session.begin():
            taken = await sync.sync_dirty(session, backends(session, settings), SYNC_BATCH)
        done += taken
        if taken < SYNC_BATCH:
            break
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            async with session_maker() as session, session.begin():
                await request_sync(session)
            break
    if done:
        log.info("search_synced", listings=done)
    return done


async def reindex(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild every document from the catalogue, then swap the new index in.

    Rerunning it is harmless: each run builds a complete new index. Changes
    made meanwhile are in the dirty set and are synced right after.
    """
    async with session_maker() as session, session.begin():
        total = await PostgresSearch(session).rebuild(sync.all_documents(session), progress)
    meili = meilisearch(settings)
    if meili is not None:
        async with session_maker() as session:
            aliases = await sync.aliases_of(session)
            await meili.rebuild(
                sync.all_documents(session, aliases=aliases),
                await sync.synonyms(session),
                aliases,
                progress,
            )
    await sync_all(session_maker, settings)
    log.info("search_reindexed", listings=total)
    return total


async def push_settings(session: AsyncSession, settings: Settings) -> None:
    """Synonyms or brand aliases changed: Meilisearch needs its settings again."""
    meili = meilisearch(settings)
    if meili is not None:
        await meili.ensure_index(await sync.synonyms(session), await sync.aliases_of(session))
