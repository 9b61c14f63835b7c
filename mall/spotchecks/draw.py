"""The spot-check draw as a pure function: anyone can recompute it.

Given a secret seed (revealed after the draw is defined), a beacon (a value
nobody knew when the seed was committed: the audit chain's head at the reveal
time fixed at commit), a population (a list of ids, published with its
SHA-256 before the reveal) and a sample size k:

0. the draw key is ``seed + ":" + beacon`` (the seed alone for draws made
   before beacons were used);
1. the population is the sorted list of distinct ids (as text, ascending by
   their UTF-8 bytes);
2. each id gets the key ``HMAC-SHA256(key=draw key (UTF-8), msg=label + ":" + id (UTF-8))``
   in lowercase hex, where ``label`` is ``"item"`` for the subjects and
   ``"inspector"`` for the inspectors;
3. the k ids with the smallest keys are drawn, in ascending key order (a tie,
   which SHA-256 makes practically impossible, goes to the smaller id).

The population's digest is ``SHA-256("\\n".join(sorted ids))`` in hex, and the
seed's commitment is ``SHA-256(seed (UTF-8))`` in hex. Inspectors are drawn the
same way from the pool; item i (0-based, in drawn order) goes to inspector
``i mod len(inspectors)``.

This module imports nothing from the project and no database or web library.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

__all__ = ["assign", "commitment", "digest", "draw", "draw_key", "key", "normalise"]


def normalise(ids: Iterable[str]) -> list[str]:
    """Distinct ids, sorted by their UTF-8 bytes."""
    return sorted(set(ids), key=lambda value: value.encode())


def digest(ids: Iterable[str]) -> str:
    """SHA-256 of the sorted ids joined by newlines (hex)."""
    return hashlib.sha256("\n".join(normalise(ids)).encode()).hexdigest()


def commitment(seed: str) -> str:
    """SHA-256 of the seed (hex): published before the seed itself."""
    return hashlib.sha256(seed.encode()).hexdigest()


def draw_key(seed: str, beacon: str | None) -> str:
    """The HMAC key of a draw: the seed mixed with the beacon (the seed alone without one).

    The regulator committed to the seed before the beacon existed, so it cannot
    try seeds offline until one picks or spares a given subject."""
    return seed if beacon is None else f"{seed}:{beacon}"


def key(seed: str, label: str, item_id: str) -> str:
    return hmac.new(seed.encode(), f"{label}:{item_id}".encode(), hashlib.sha256).hexdigest()


def draw(seed: str, ids: Iterable[str], k: int, *, label: str = "item") -> list[str]:
    """The k ids with the smallest HMAC keys, smallest first."""
    population = normalise(ids)
    if not 0 < k <= len(population):
        raise ValueError(f"cannot draw {k} from a population of {len(population)}")
    ranked = sorted(population, key=lambda item_id: (key(seed, label, item_id), item_id.encode()))
    return ranked[:k]


def assign(items: Sequence[str], inspectors: Sequence[str]) -> list[tuple[str, str]]:
    """Item i goes to inspector i mod the number of inspectors."""
    return [(item, inspectors[index % len(inspectors)]) for index, item in enumerate(items)]
