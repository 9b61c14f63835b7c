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


_WHOLE_TOKEN = re.compile(r"[^\W_]+")
# A letter O typed for a zero beside a digit (M4O4dn, LBP29OO).
_O_FOR_ZERO = re.compile(r"(?<=\d)o+|o+(?=\d)")
# A model number typed with a wrong last letter still finds its model (M404dm).
TYPO_MIN_CHARS = 5


def warm_up() -> None:
    """Load jieba's dictionary now (about half a second) rather than in the first search."""
    jieba.initialize()


def _clean_folded(piece: str) -> list[str]:
    if _WHOLE_TOKEN.fullmatch(piece):  # most pieces: nothing to split
        return [piece]
    return [t.strip(".") for t in _NOT_TOKEN.split(piece) if t.strip(".")]


def _clean(token: str) -> list[str]:
    return _clean_folded(normalise(token))


@lru_cache(maxsize=65536)
def _cut_for_search(text: str) -> tuple[str, ...]:
    # HMM off: new words are not guessed, so a document and a query always cut
    # the same text the same way, and cutting is about twice as fast.
    return tuple(jieba.cut_for_search(text, HMM=False))


def index_tokens(text: str) -> list[str]:
    """Every search-mode token of ``text``, folded, in order, duplicates kept once."""
    seen: dict[str, None] = {}
    for piece in _cut_for_search(normalise(text)):
        for token in _clean_folded(piece):
            seen.setdefault(token, None)
    return list(seen)


def query_segments(query: str) -> list[str]:
    """The query's precise-mode words, folded; each must be found."""
    segments: dict[str, None] = {}
    for piece in jieba.cut(normalise(query[:MAX_QUERY_CHARS]), HMM=False):
        for token in _clean(piece):
            segments.setdefault(token, None)
    return list(segments)[:MAX_SEGMENTS]


def zero_for_o(word: str) -> str:
    """``m4o4dn`` → ``m404dn``: letters O beside digits read as zeros."""
    return _O_FOR_ZERO.sub(lambda m: "0" * len(m.group()), word) if "o" in word else word


def model_candidates(query: str) -> list[str]:
    """Normalised model numbers the query may name: each Latin-digit run with a
    digit, and runs joined with their neighbours (``M404 dn`` → ``m404dn``),
    each also with letters O beside digits read as zeros."""
    found = _model_candidates(query)
    for model in list(found):
        found.setdefault(zero_for_o(model), None)
    return list(found)[:8]


def _model_candidates(query: str) -> dict[str, None]:
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
    return found


def _alternatives(word: str, synonyms: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    found: dict[tuple[str, ...], None] = {}
    for other in (word, *synonyms.get(word, ())):
        words = tuple(query_segments(other))
        if words:
            found.setdefault(words, None)
    return list(found)


def _code_like(segment: str) -> bool:
    return bool(_LATIN_RUN.match(segment)) and (
        bool(_HAS_DIGIT.search(segment)) or len(segment) <= 3
    )


def query_groups(query: str, synonyms: Mapping[str, Iterable[str]]) -> list[list[tuple[str, ...]]]:
    """The query as groups that must all be found; a group is found through any
    of its alternatives, and an alternative is words that must all be found.

    The query is cut in jieba's precise mode. Neighbouring words that together
    spell a synonym (洽谈 + 椅 = 洽谈椅) become one group, found through any
    word of its synonym group, each cut like a query: (洽谈 & 椅) | (会议 & 椅).
    Neighbouring Latin and digit runs that spell a model number (M404 + dn)
    may also be found as one word (m404dn).
    """
    segments = query_segments(query)
    groups: list[list[tuple[str, ...]]] = []
    i = 0
    while i < len(segments):
        for size in (4, 3, 2, 1):
            phrase = "".join(segments[i : i + size])
            if i + size <= len(segments) and phrase in synonyms:
                groups.append(_alternatives(phrase, synonyms))
                i += size
                break
        else:
            run = [segments[i]]
            while (
                i + len(run) < len(segments)
                and _code_like(run[-1])
                and _code_like(segments[i + len(run)])
                and len(run) < 3
            ):
                run.append(segments[i + len(run)])
            joined = "".join(run)
            if len(run) > 1 and _HAS_DIGIT.search(joined):
                group = [tuple(run), (joined,)]
                i += len(run)
            else:
                group = [(segments[i],)]
                i += 1
            fixed = tuple(zero_for_o(w) for w in group[0])
            if fixed != group[0]:
                group.append(fixed)
                if len(fixed) > 1:
                    group.append(("".join(fixed),))
            groups.append(group)
    return groups[:MAX_SEGMENTS]


def _model_word(word: str) -> bool:
    """A Latin-digit word with a digit: part of a model number, matched as a prefix."""
    return len(word) >= 3 and bool(_LATIN_RUN.match(word)) and bool(_HAS_DIGIT.search(word))


def _tsquery_word(word: str, relaxed: bool) -> str:
    """A word as a tsquery operand: a model number's part also finds longer
    ones (``m404`` finds ``m404dn``); relaxed, a long one also finds those with
    another last letter (``m404dm`` finds ``m404dn``)."""
    if not _model_word(word):
        return word
    if relaxed and len(word) >= TYPO_MIN_CHARS and _model_word(word[:-1]):
        return f"({word}:* | {word[:-1]}:*)"
    return f"{word}:*"


def to_tsquery(groups: Sequence[Sequence[tuple[str, ...]]], *, all_required: bool = True) -> str:
    """A ``to_tsquery('simple', …)`` text: groups joined by & (or |), alternatives by |.

    Words hold only letters, digits, CJK characters and dots (see ``_clean``),
    so no tsquery operator can come from the user; the prefix marks (``:*``)
    are added here, to model-number words only.
    """
    joiner = " & " if all_required else " | "
    parts = []
    for group in groups:
        options = []
        for words in group:
            kept = [
                _tsquery_word(w, not all_required) for w in words if w and not _NOT_TOKEN.search(w)
            ]
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
