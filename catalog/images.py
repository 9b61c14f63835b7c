"""Product images with Pillow: checked by content, cleaned, measured, thumbnailed.

These functions are CPU work on bytes; callers run them off the event loop
(the worker, or a thread).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass

import imagehash
from PIL import Image, ImageOps, UnidentifiedImageError

from catalog.errors import CatalogInvalid

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
THUMBNAIL_SIZES = (160, 480, 800)
MAX_PIXELS = 40_000_000  # e.g. 8000 x 5000; more is refused as a decompression bomb
_WHITE = 240  # a channel value at or above this counts as white


def sniff(content: bytes) -> str | None:
    """JPEG, PNG or WebP by their first bytes, else None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def _refuse(message: str) -> CatalogInvalid:
    return CatalogInvalid(
        f"The image was refused: {message}.",
        code="catalog.image_invalid",
        title="图片不符合要求",
        errors=[{"field": "file", "message": message}],
    )


def _open(content: bytes, *, verify: bool = True) -> tuple[Image.Image, tuple[int, int]]:
    """Open and fully decode, refusing bombs, truncated files and other formats;
    (image, its size as stored)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(content))
            if probe.format not in FORMATS:
                raise _refuse("only JPEG, PNG and WebP images are accepted")
            if probe.width * probe.height > MAX_PIXELS:
                raise _refuse(
                    f"{probe.width}x{probe.height} pixels is too many (decompression bomb)"
                )
            size = probe.size
            if verify:
                probe.verify()
                image = Image.open(io.BytesIO(content))
                if image.format == "JPEG":
                    # Reading every byte finds truncation; 1/8 scale makes it cheap.
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            else:
                image = probe
            image.load()  # a truncated file fails here
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("too many pixels (decompression bomb)") from None
        except UnidentifiedImageError:
            raise _refuse("not an image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise _refuse(f"damaged or truncated image ({exc})") from None
    return image, size


def check(content: bytes) -> tuple[str, int, int]:
    """Validate an upload; (media type, width, height)."""
    if sniff(content) is None:
        raise _refuse("not a JPEG, PNG or WebP file (checked by content)")
    image, (width, height) = _open(content)
    return FORMATS[image.format or ""], width, height


@dataclass(frozen=True)
class ProcessedImage:
    content: bytes  # re-encoded: orientation applied, metadata (EXIF, GPS) gone
    media_type: str
    width: int
    height: int
    phash: str
    border_whiteness: float
    thumbnails: dict[int, bytes]


def border_whiteness(image: Image.Image, band: float = 0.03) -> float:
    """The share of near-white pixels in a frame around the image (0..1).

    Meant for a small image (a thumbnail): it reads every border pixel.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    edge = max(1, int(min(width, height) * band))
    pixels = rgb.load()
    total = white = 0
    for y in range(height):
        on_edge_row = y < edge or y >= height - edge
        for x in range(width) if on_edge_row else (*range(edge), *range(width - edge, width)):
            r, g, b = pixels[x, y]  # type: ignore[index,misc]
            total += 1
            white += r >= _WHITE and g >= _WHITE and b >= _WHITE
    return white / total if total else 0.0


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def process(content: bytes) -> ProcessedImage:
    """Clean and measure an image that passed ``check`` (at upload)."""
    image, _ = _open(content, verify=False)
    fmt = image.format or "JPEG"
    image = ImageOps.exif_transpose(image)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    # Saving without exif= drops EXIF (and GPS) from the stored file.
    image.save(out, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    # Each thumbnail from the next larger one: the full image is resampled once.
    thumbnails: dict[int, Image.Image] = {}
    source = image
    for size in sorted(THUMBNAIL_SIZES, reverse=True):
        source = source.convert("RGB")  # a copy, in RGB: the thumbnail is made in place
        # Bicubic for the largest; the smaller ones come from it, bilinear is enough.
        first = size == max(THUMBNAIL_SIZES)
        source.thumbnail(
            (size, size), Image.Resampling.BICUBIC if first else Image.Resampling.BILINEAR
        )
        thumbnails[size] = source
    return ProcessedImage(
        content=out.getvalue(),
        media_type=FORMATS[fmt],
        width=image.width,
        height=image.height,
        # Hash and border from thumbnails: the same for every image, and cheap.
        phash=str(imagehash.phash(thumbnails[160])),
        border_whiteness=round(border_whiteness(thumbnails[160]), 4),
        thumbnails={size: _jpeg(thumb) for size, thumb in thumbnails.items()},
    )


ARCHIVE_MAX_ENTRIES = 5000
ARCHIVE_MAX_IMAGE_BYTES = 10 * 1024 * 1024
ARCHIVE_MAX_TOTAL_BYTES = 500 * 1024 * 1024


def _archive_refused(message: str) -> CatalogInvalid:
    return CatalogInvalid(
        f"The image archive was refused: {message}.",
        code="catalog.import_images_invalid",
        title="图片压缩包不符合要求",
        errors=[{"field": "images", "message": message}],
    )


def archive_names(content: bytes) -> dict[str, zipfile.ZipInfo]:
    """The files of a ZIP of images by their name inside it (folders dropped, so
    ``图片/a.jpg`` is ``a.jpg`` too), after checking its declared sizes: at most
    5,000 files of 10 MB each and 500 MB in all (a ZIP bomb is refused unread)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise _archive_refused(f"not a ZIP file ({exc})") from None
    if len(entries) > ARCHIVE_MAX_ENTRIES:
        raise _archive_refused(f"more than {ARCHIVE_MAX_ENTRIES} files")
    if sum(i.file_size for i in entries) > ARCHIVE_MAX_TOTAL_BYTES:
        raise _archive_refused(f"more than {ARCHIVE_MAX_TOTAL_BYTES} bytes uncompressed")
    names: dict[str, zipfile.ZipInfo] = {}
    for info in entries:
        names[info.filename] = info
        names.setdefault(info.filename.rsplit("/", 1)[-1], info)
    return names


def archive_member(content: bytes, info: zipfile.ZipInfo) -> bytes:
    """One file of the archive, read no further than its size limit."""
    if info.file_size > ARCHIVE_MAX_IMAGE_BYTES:
        raise _refuse(f"larger than {ARCHIVE_MAX_IMAGE_BYTES} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(content)).open(info) as member:
            data = member.read(ARCHIVE_MAX_IMAGE_BYTES + 1)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise _refuse(f"cannot be read from the archive ({exc})") from None
    if len(data) > ARCHIVE_MAX_IMAGE_BYTES:
        raise _refuse(f"larger than {ARCHIVE_MAX_IMAGE_BYTES} bytes")
    return data
