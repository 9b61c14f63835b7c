"""One listing, submit to visible decision, with the API and the worker running
as separate processes: p95 over a series of submissions, next to the p95 of
a plain request (GET /health) to the same server."""

from __future__ import annotations

import time
import uuid

import httpx

from bench.common import Result, p95, running_mall

SUBMISSIONS = 40


def run(database_url: str, redis_url: str) -> list[Result]:
    with (
        running_mall(database_url, redis_url) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        token = client.post(
            "/api/v1/auth/login",
            json={"email": "supplier@emall.example.com", "password": "Supplier#2026"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        time.sleep(1.0)  # the worker's start-up
        latencies, plain = [], []
        for _ in range(SUBMISSIONS):
            model = f"B{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
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
                    "submit": True,
                },
            ).json()
            while (
                client.get(f"/api/v1/listings/{created['id']}", headers=headers).json()["status"]
                == "submitted"
            ):
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.get("/health")
            plain.append(time.perf_counter() - started)
    return [
        Result.of(
            "listing_submit_to_decision_p95",
            p95(latencies) * 1000,
            "ms",
            "GET /health p95, same server",
            p95(plain) * 1000,
        ).inverted()
    ]
