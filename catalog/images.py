"""Product images with Pillow: checked by content, cleaned, measured, thumbnailed.

These functions are CPU work on bytes; callers run them off the event loop
(the worker, or a thread).
"""

from __future__ import annotations

import io
import warnings
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


def _open(content: bytes) -> Image.Image:
    """Open and fully decode, refusing bombs, truncated files and other formats."""
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
            probe.verify()
            image = Image.open(io.BytesIO(content))
            image.load()  # a truncated file fails here
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("too many pixels (decompression bomb)") from None
        except UnidentifiedImageError:
            raise _refuse("not an image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise _refuse(f"damaged or truncated image ({exc})") from None
    return image


def check(content: bytes) -> tuple[str, int, int]:
    """Validate an upload; (media type, width, height)."""
    if sniff(content) is None:
        raise _refuse("not a JPEG, PNG or WebP file (checked by content)")
    image = _open(content)
    return FORMATS[image.format or ""], image.width, image.height


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
    """The share of near-white pixels in a frame around the image (0..1)."""
    rgb = image.convert("RGB")
    small = rgb.copy()
    small.thumbnail((200, 200))
    width, height = small.size
    edge = max(1, int(min(width, height) * band))
    pixels = small.load()
    total = white = 0
    for y in range(height):
        on_edge_row = y < edge or y >= height - edge
        for x in range(width) if on_edge_row else (*range(edge), *range(width - edge, width)):
            r, g, b = pixels[x, y]  # type: ignore[index,misc]
            total += 1
            white += r >= _WHITE and g >= _WHITE and b >= _WHITE
    return white / total if total else 0.0


def process(content: bytes) -> ProcessedImage:
    """Clean and measure an image that passed ``check``."""
    image = _open(content)
    fmt = image.format or "JPEG"
    image = ImageOps.exif_transpose(image)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    # Saving without exif= drops EXIF (and GPS) from the stored file.
    image.save(out, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    thumbnails = {}
    for size in THUMBNAIL_SIZES:
        thumb = image.convert("RGB")
        thumb.thumbnail((size, size))
        buffer = io.BytesIO()
        thumb.save(buffer, format="JPEG", quality=85)
        thumbnails[size] = buffer.getvalue()
    return ProcessedImage(
        content=out.getvalue(),
        media_type=FORMATS[fmt],
        width=image.width,
        height=image.height,
        phash=str(imagehash.phash(image)),
        border_whiteness=round(border_whiteness(image), 4),
        thumbnails=thumbnails,
    )


def hash_distance(a: str, b: str) -> int:
    """Hamming distance between two perceptual hashes (hex)."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")
