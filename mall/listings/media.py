"""A supplier's media library: images checked and processed once, then used by
bulk imports (named by id, or sent in a ZIP beside the sheet).

An image is checked like a listing image (type by content, pixel limit,
truncation) and processed at once (metadata stripped, orientation applied,
thumbnails, perceptual hash, border whiteness), so a listing that uses it is
reviewed on real image facts. The same file sent twice by one supplier is one
image.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog import images as image_tools
from catalog.models import MediaImage
from mall import audit
from mall.errors import InvalidError, NotFoundError
from mall.storage import FileStore

MAX_BYTES = 10 * 1024 * 1024


async def add(
    session: AsyncSession,
    store: FileStore,
    actor: audit.Actor,
    supplier_id: uuid.UUID,
    content: bytes,
    filename: str,
) -> MediaImage:
    """Check, process and keep an image in the supplier's library (once per file)."""
    if len(content) > MAX_BYTES:
        raise InvalidError(
            f"The image is larger than {MAX_BYTES} bytes.",
            code="catalog.image_too_large",
            title="图片文件过大",
            errors=[{"field": "file", "message": f"at most {MAX_BYTES} bytes"}],
        )
    existing = await _by_original(session, supplier_id, hashlib.sha256(content).hexdigest())
    if existing is not None:
        return existing
    await asyncio.to_thread(image_tools.check, content)
    try:
        processed = await asyncio.to_thread(image_tools.process, content)
    except Exception as exc:  # passed the check, fails to process: refused the same way
        raise InvalidError(
            f"The image was refused: {str(exc)[:200]}.",
            code="catalog.image_invalid",
            title="图片不符合要求",
            errors=[{"field": "file", "message": "cannot be processed"}],
        ) from None
    original = store.put(content)
    values = {
        "id": uuid.uuid4(),
        "supplier_id": supplier_id,
        "filename": (filename or "image")[:255],
        "original_sha256": original,
        "sha256": store.put(processed.content),
        "media_type": processed.media_type,
        "width": processed.width,
        "height": processed.height,
        "phash": processed.phash,
        "border_whiteness": processed.border_whiteness,
        "thumbnails": {str(s): store.put(d) for s, d in processed.thumbnails.items()},
    }
    created = await session.scalar(
        insert(MediaImage)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_media_image_file")
        .returning(MediaImage.id)
    )
    found = await _by_original(session, supplier_id, original)
    assert found is not None
    if created is not None:
        await audit.record(
            session,
            actor=actor,
            action="media.added",
            subject_type="media_image",
            subject_id=found.id,
            after={"sha256": original, "filename": found.filename},
        )
    return found


async def _by_original(
    session: AsyncSession, supplier_id: uuid.UUID, original: str
) -> MediaImage | None:
    return (
        await session.scalars(
            select(MediaImage).where(
                MediaImage.supplier_id == supplier_id, MediaImage.original_sha256 == original
            )
        )
    ).one_or_none()


async def owned(
    session: AsyncSession, supplier_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MediaImage]:
    """The supplier's own images among ``ids`` (another supplier's are not found)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(MediaImage).where(MediaImage.supplier_id == supplier_id, MediaImage.id.in_(wanted))
    )
    return {m.id: m for m in rows}


async def list_own(
    session: AsyncSession, supplier_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> Sequence[MediaImage]:
    """The supplier's library, newest first."""
    return (
        await session.scalars(
            select(MediaImage)
            .where(MediaImage.supplier_id == supplier_id)
            .order_by(MediaImage.created_at.desc(), MediaImage.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()


async def get_own(session: AsyncSession, supplier_id: uuid.UUID, media_id: uuid.UUID) -> MediaImage:
    found = (await owned(session, supplier_id, [media_id])).get(media_id)
    if found is None:
        raise NotFoundError(
            "No such image in your library.", code="catalog.media_not_found", title="未找到该图片"
        )
    return found
