"""Image work per core: check + clean + three thumbnails + perceptual hash +
border whiteness, vs a bare Pillow loop (open, one 800 px thumbnail, save)."""

from __future__ import annotations

import io
import random
import time

from PIL import Image

from bench.common import Result, median
from catalog import images

COUNT = 40
ROUNDS = 3


def photos(n: int) -> list[bytes]:
    rng = random.Random(3)
    result = []
    for _ in range(n):
        image = Image.new("RGB", (1200, 1200), "white")
        for _ in range(20):
            x, y = rng.randrange(100, 900), rng.randrange(100, 900)
            image.paste(
                (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                (x, y, x + 200, y + 150),
            )
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        result.append(buffer.getvalue())
    return result


def _bare(content: bytes) -> None:
    image = Image.open(io.BytesIO(content))
    image.thumbnail((800, 800))
    image.save(io.BytesIO(), "JPEG", quality=85)


def _ours(content: bytes) -> None:
    images.check(content)
    images.process(content)


def run() -> list[Result]:
    data = photos(COUNT)
    ours, bare = [], []
    for _ in range(ROUNDS):
        for work, rates in ((_bare, bare), (_ours, ours)):
            started = time.perf_counter()
            for content in data:
                work(content)
            rates.append(len(data) / (time.perf_counter() - started))
    return [
        Result.of(
            "images_check_process",
            median(ours),
            "img/s",
            "bare Pillow open+thumbnail+save",
            median(bare),
        )
    ]
