"""`make bench`: run every benchmark, print a table, write bench/results/latest.json."""

from __future__ import annotations

import asyncio
import os

from bench import (
    audit_append,
    bulk_import,
    decision_latency,
    http_health,
    images,
    observation_import,
    order_placing,
    outbox_relay,
    price_scan,
    review_engine,
    search,
    search_freshness,
    sla_sweep,
)
from bench.common import print_table, scratch_database, write_results
from mall.logging import configure_logging
from mall.settings import get_settings


def main() -> None:
    os.environ.setdefault("MALL_LOG_LEVEL", "WARNING")
    configure_logging(get_settings().log)
    results = review_engine.run() + images.run()
    with scratch_database() as (database_url, redis_url):
        results += asyncio.run(audit_append.run(database_url))
        results += asyncio.run(sla_sweep.run(database_url))
        results += asyncio.run(bulk_import.run(database_url))
        results += asyncio.run(price_scan.run(database_url))
        results += asyncio.run(observation_import.run(database_url))
        results += http_health.run(database_url, redis_url)
        results += decision_latency.run(database_url, redis_url)
        results += order_placing.run(database_url, redis_url)
        results += outbox_relay.run(database_url, redis_url)
        results += search_freshness.run(database_url, redis_url)
    # Search loads a million listings of its own: a database of its own.
    with scratch_database() as (database_url, _redis_url):
        results += asyncio.run(search.run(database_url))
    print_table(results)
    print(f"\nwritten to {write_results(results)}")


if __name__ == "__main__":
    main()
