"""Turning Chinese product text into search tokens, the same way for documents
and queries.

Documents are cut in jieba's search mode (打印机 also yields 打印 and 印机), so
a query word finds the longer words that contain it. A query is cut in the
precise mode into segments; every segment must match (AND), and a segment
matches through itself or one of its synonyms (OR). Latin and digit runs are
kept whole and folded (NFKC, lower case), so ``M404dn`` is one token.

Model numbers are also matched outside the text index: the query's Latin
and digit runs, alone and joined with their neighbours, are normalised like
listing models (``M404 dn`` → ``m404dn``) and compared exactly and as
prefixes, and with trigram similarity for typos.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import jieba

from review_rules.text import normalise, normalise_model

jieba.setLogLevel(logging.WARNING)

# What the PostgreSQL "simple" parser would split on, plus tsquery operators:
# a token keeps only letters, digits and CJK characters (and . inside numbers).
_NOT_TOKEN = re.compile(r"[^\w.]+|_")
_LATIN_RUN = re.compile(r"^[a-z0-9.]+$")
_HAS_DIGIT = re.compile(r"\d")
MAX_QUERY_CHARS = 200
MAX_SEGMENTS = 12


def _clean(token: str) -> list[str]:
    return [t.strip(".") for t in _NOT_TOKEN.split(normalise(token)) if t.strip(".")]


@lru_cache(maxsize=65536)
def _cut_for_search(text: str) -> tuple[str, ...]:
    return tuple(jieba.cut_for_search(text))


def index_tokens(text: str) -> list[str]:
    """Every search-mode token of ``text``, folded, in order, duplicates kept once."""
    seen: dict[str, None] = {}
    for piece in _cut_for_search(normalise(text)):
        for token in _clean(piece):
            seen.setdefault(token, None)
    return list(seen)


def query_segments(query: str) -> list[str]:
    """The query's precise-mode words, folded; each must be found."""
    segments: dict[str, None] = {}
    for piece in jieba.cut(normalise(query[:MAX_QUERY_CHARS])):
        for token in _clean(piece):
            segments.setdefault(token, None)
    return list(segments)[:MAX_SEGMENTS]


def model_candidates(query: str) -> list[str]:
    """Normalised model numbers the query may name: each Latin-digit run with a
    digit, and runs joined with their neighbours (``M404 dn`` → ``m404dn``)."""
    runs = [t for t in re.split(r"[^0-9a-z]+", normalise(query)) if t]
    found: dict[str, None] = {}
    whole = normalise_model(query)
    if _LATIN_RUN.match(whole) and _HAS_DIGIT.search(whole) and len(whole) >= 3:
        found.setdefault(whole, None)
    for size in (1, 2, 3):
        for start in range(len(runs) - size + 1):
            parts = runs[start : start + size]
            joined = "".join(parts)
            # Join only short letter runs to a number (M404 + dn), not whole words.
            if (
                _HAS_DIGIT.search(joined)
                and len(joined) >= 3
                and all(_HAS_DIGIT.search(p) or len(p) <= 3 for p in parts)
            ):
                found.setdefault(joined, None)
    return list(found)[:8]


def query_groups(query: str, synonyms: Mapping[str, Iterable[str]]) -> list[list[tuple[str, ...]]]:
    """The query as groups that must all be found; a group is found through any
    of its alternatives, and an alternative is words that must all be found.

    Words operators listed as synonyms are taken from the query whole (longest
    first), whatever jieba would make of them; each alternative is then cut
    like a query, so 洽谈椅 = 会议椅 becomes (洽谈 & 椅) | (会议 & 椅).
    """
    text = normalise(query[:MAX_QUERY_CHARS])
    known = sorted((w for w in synonyms if len(w) > 1 and w in text), key=len, reverse=True)
    groups: list[list[tuple[str, ...]]] = []
    pieces: list[str] = [text]
    for word in known:
        split: list[str] = []
        for piece in pieces:
            if piece in synonyms and piece in known:
                split.append(piece)
                continue
            parts = piece.split(word)
            for n, part in enumerate(parts):
                if n:
                    split.append(word)
                split.append(part)
        pieces = [p for p in split if p]
    for piece in pieces:
        if piece in synonyms:
            alternatives: dict[tuple[str, ...], None] = {}
            for other in (piece, *synonyms[piece]):
                words = tuple(query_segments(other))
                if words:
                    alternatives.setdefault(words, None)
            if alternatives:
                groups.append(list(alternatives))
        else:
            groups.extend([[(segment,)] for segment in query_segments(piece)])
    return groups[:MAX_SEGMENTS]


def to_tsquery(groups: Sequence[Sequence[tuple[str, ...]]], *, all_required: bool = True) -> str:
    """A ``to_tsquery('simple', …)`` text: groups joined by & (or |), alternatives by |.

    Words hold only letters, digits, CJK characters and dots (see ``_clean``),
    so no tsquery operator can come from the user.
    """
    joiner = " & " if all_required else " | "
    parts = []
    for group in groups:
        options = []
        for words in group:
            kept = [w for w in words if w and not _NOT_TOKEN.search(w)]
            if kept:
                options.append(kept[0] if len(kept) == 1 else "(" + " & ".join(kept) + ")")
        if options:
            parts.append("(" + " | ".join(options) + ")")
    return joiner.join(parts)


def highlight(
    text: str, words: Iterable[str], *, before: str = "<em>", after: str = "</em>"
) -> str:
    """``text`` with the query's words marked (longest first, case-insensitive)."""
    ordered = sorted({w for w in words if w}, key=len, reverse=True)
    if not ordered:
        return text
    pattern = re.compile("|".join(re.escape(w) for w in ordered), re.IGNORECASE)
    folded = normalise(text)
    if len(folded) != len(text):  # NFKC changed lengths: mark on the folded text
        text = folded
    out, last = [], 0
    for match in pattern.finditer(normalise(text)):
        out.append(text[last : match.start()])
        out.append(before + text[match.start() : match.end()] + after)
        last = match.end()
    out.append(text[last:])
    return "".join(out)
