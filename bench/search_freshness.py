"""Search freshness under load: how soon an approved listing is found, and a
delisted one gone, with the API and the worker as separate processes.

While suppliers keep submitting listings (reviews, image checks and search
wake-ups for the worker) and purchasers keep searching, one supplier submits
listings one at a time and a purchaser searches for each until it is found,
then delists them one at a time until search no longer finds them.
Reported: the p99 from approval (the supplier first sees the listing
approved) to findable, from submission to findable (the review's wait in
the worker's backlog included), and from delisting to gone, next to the p99 of the
purchasers' search requests to the same server in the same run (the floor of
any such measurement: visibility is seen through one of them).
"""

from __future__ import annotations

import io
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import httpx
from PIL import Image, ImageDraw

from bench.common import Result, running_mall

SAMPLES = int(os.environ.get("MALL_BENCH_FRESHNESS_SAMPLES", "100"))
SUBMITTERS = 3  # background suppliers submitting listings
SEARCHERS = 2  # background purchasers searching
POLL = 0.01
GIVE_UP = 30.0
SUPPLIER = ("supplier@emall.example.com", "Supplier#2026")
OTHER_SUPPLIER = ("supplier2@emall.example.com", "Supplier#2026")
BUYER = ("buyer@emall.example.com", "Buyer#2026")


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _picture(seed: int) -> bytes:
    """A product photo stand-in, different for each listing."""
    rng = random.Random(seed)
    image = Image.new("RGB", (1000, 1000), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(0, 800), rng.randrange(0, 800)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x, y, x + rng.randrange(50, 200), y + rng.randrange(50, 200)), colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _login(client: httpx.Client, account: tuple[str, str]) -> dict[str, str]:
    email, password = account
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _draft(client: httpx.Client, headers: dict[str, str]) -> tuple[str, str]:
    """A paper listing with its own picture, not yet submitted: (id, model)."""
    model = f"F{uuid.uuid4().hex[:8].upper()}"
    created = client.post(
        "/api/v1/listings/",
        headers=headers,
        json={
            "category_code": "A090101",
            "brand": "得力",
            "model": model,
            "title": f"得力 {model} A4 复印纸 70g 500张/包",
            "price": "23.50",
            "unit": "包",
            "attributes": {"幅面": "A4", "克重": 70, "每包张数": 500},
        },
    )
    created.raise_for_status()
    listing_id = created.json()["id"]
    client.post(
        f"/api/v1/listings/{listing_id}/images",
        headers=headers,
        files={"file": ("p.jpg", _picture(hash(model)), "image/jpeg")},
    ).raise_for_status()
    return listing_id, model


def _found(client: httpx.Client, headers: dict[str, str], model: str, listing_id: str) -> bool:
    response = client.get("/api/v1/catalog/search", params={"q": model}, headers=headers)
    response.raise_for_status()
    return listing_id in response.text


def _decided(client: httpx.Client, headers: dict[str, str], listing_id: str) -> str | None:
    """The listing's review outcome, None while it is still submitted."""
    status = client.get(f"/api/v1/listings/{listing_id}", headers=headers).json()["status"]
    return None if status == "submitted" else str(status)


def _wait(condition: Callable[[], bool], give_up: float = GIVE_UP) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > give_up:
            raise RuntimeError(f"search did not catch up within {give_up:.0f} s")
        time.sleep(POLL)
    return time.perf_counter() - started


def _load(base: str, stop: threading.Event, searches: list[float]) -> list[threading.Thread]:
    def submitter() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            headers = _login(client, OTHER_SUPPLIER)
            while not stop.is_set():
                listing_id, _ = _draft(client, headers)
                client.post(f"/api/v1/listings/{listing_id}/submit", headers=headers)

    def searcher() -> None:
        words = ["复印纸", "A4", "得力", "打印机", "台式机", "办公椅", "70g", "硒鼓"]
        with httpx.Client(base_url=base, timeout=30) as client:
            headers = _login(client, BUYER)
            while not stop.is_set():
                started = time.perf_counter()
                client.get(
                    "/api/v1/catalog/search", params={"q": random.choice(words)}, headers=headers
                ).raise_for_status()
                searches.append(time.perf_counter() - started)

    threads = [threading.Thread(target=submitter, daemon=True) for _ in range(SUBMITTERS)]
    threads += [threading.Thread(target=searcher, daemon=True) for _ in range(SEARCHERS)]
    for thread in threads:
        thread.start()
    return threads


def run(database_url: str, redis_url: str) -> list[Result]:
    stop, searches = threading.Event(), []
    with (
        running_mall(database_url, redis_url) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        try:
            supplier, buyer = _login(client, SUPPLIER), _login(client, BUYER)
            # The worker's start-up (its first listing found ends it), not measured.
            listing_id, model = _draft(client, supplier)
            client.post(f"/api/v1/listings/{listing_id}/submit", headers=supplier)
            _wait(lambda: _found(client, buyer, model, listing_id), give_up=180)
            threads = _load(base, stop, searches)
            submitted, approved, delisted, on_sale = [], [], [], []
            while len(approved) < SAMPLES:
                listing_id, model = _draft(client, supplier)
                started = time.perf_counter()
                client.post(f"/api/v1/listings/{listing_id}/submit", headers=supplier)
                _wait(lambda i=listing_id: _decided(client, supplier, i) is not None)
                decided = time.perf_counter()
                if _decided(client, supplier, listing_id) != "approved":
                    continue  # sent to a person (rare): not a sample
                _wait(lambda m=model, i=listing_id: _found(client, buyer, m, i))
                submitted.append(time.perf_counter() - started)
                approved.append(time.perf_counter() - decided)
                on_sale.append((listing_id, model))
            for listing_id, model in on_sale:
                started = time.perf_counter()
                client.post(
                    f"/api/v1/listings/{listing_id}/delist", headers=supplier, json={}
                ).raise_for_status()
                _wait(lambda m=model, i=listing_id: not _found(client, buyer, m, i))
                delisted.append(time.perf_counter() - started)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        finally:
            stop.set()
    reference = p99(searches) * 1000
    reference_name = "purchaser search request p99, same server, same run"
    return [
        Result.of(
            "search_fresh_after_approval_p99", p99(approved) * 1000, "ms", reference_name, reference
        ).inverted(),
        Result.of(
            "search_fresh_after_submit_p99", p99(submitted) * 1000, "ms", reference_name, reference
        ).inverted(),
        Result.of(
            "search_gone_after_delist_p99", p99(delisted) * 1000, "ms", reference_name, reference
        ).inverted(),
    ]


if __name__ == "__main__":
    from bench.common import print_table, scratch_database

    with scratch_database() as (database_url, redis_url):
        print_table(run(database_url, redis_url))
