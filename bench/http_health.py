"""GET /health through the whole mall stack vs a bare Litestar JSON endpoint.

Each app runs in its own uvicorn process (one worker) on 127.0.0.1; a small
keep-alive HTTP/1.1 client with 32 connections sends a fixed number of
requests. Rounds alternate between the two apps and the medians are compared.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from bench.common import Result, median
from mall.embedded import free_port, port_answers

CONNECTIONS = 32
REQUESTS = 6000
ROUNDS = 3


async def _connection(port: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
    try:
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
    finally:
        writer.close()


async def _rate(port: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, REQUESTS // CONNECTIONS) for _ in range(CONNECTIONS)))
    return (REQUESTS // CONNECTIONS) * CONNECTIONS / (time.perf_counter() - started)


def _serve(target: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *target,
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not port_answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{target} did not start")
        time.sleep(0.1)
    return process


def run(database_url: str, redis_url: str) -> list[Result]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    mall_port, bare_port = free_port(), free_port()
    servers = [
        _serve(["--factory", "mall.app:create_app"], mall_port, env),
        _serve(["bench.bare_app:app"], bare_port, env),
    ]
    try:
        asyncio.run(_rate(mall_port))  # warm up both
        asyncio.run(_rate(bare_port))
        mall_rates, bare_rates = [], []
        for _ in range(ROUNDS):
            mall_rates.append(asyncio.run(_rate(mall_port)))
            bare_rates.append(asyncio.run(_rate(bare_port)))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)
    return [
        Result.of(
            "http_get_health",
            median(mall_rates),
            "req/s",
            "bare Litestar JSON endpoint",
            median(bare_rates),
        )
    ]
