"""Text helpers for the rules: folding text before matching, normalising model
numbers, matching term lists with an automaton, spotting contact details.

Folding (``normalise``) is what every comparison uses: NFKC (full-width to
half-width), lower case, invisible characters removed (zero-width spaces and
joiners, soft hyphens, direction marks, byte-order marks) and traditional
characters mapped to simplified ones (國家級 → 国家级), character by
character with OpenCC's traditional-to-simplified table. Mapping single
characters keeps folding a table lookup per character, fast enough for the
rules engine, and never joins or splits words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import ahocorasick
import opencc

_MODEL_DROP = re.compile(r"[\s\-_/·.()（）\[\]【】]+")
# Characters that render as nothing but split a word for a matcher.
_EXTRA_INVISIBLE = (0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFFA0, 0x034F)
_CJK_BLOCKS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))


@lru_cache(maxsize=1)
def _invisible() -> dict[int, None]:
    codes = [c for c in range(0x10000) if unicodedata.category(chr(c)) == "Cf"]
    codes += [c for c in range(0xE0000, 0xE0080)]  # tag characters
    codes += [c for c in range(0xFE00, 0xFE10)]  # variation selectors
    return dict.fromkeys((*codes, *_EXTRA_INVISIBLE))


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, int | None]:
    """Invisible characters → nothing; traditional characters → simplified."""
    chars = [chr(c) for low, high in _CJK_BLOCKS for c in range(low, high + 1)]
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    table: dict[int, int | None] = {}
    if len(converted) == len(chars):
        for before, after in zip(chars, converted, strict=True):
            if len(after) == 1 and after != before:
                table[ord(before)] = ord(after)
    else:  # pragma: no cover - a converter that merged lines: convert one by one
        converter = opencc.OpenCC("t2s")
        for before in chars:
            after = converter.convert(before)
            if len(after) == 1 and after != before:
                table[ord(before)] = ord(after)
    table.update(_invisible())
    return table


@lru_cache(maxsize=1)
def _needs_folding() -> re.Pattern[str]:
    """Any character the fold table may change: most titles have none, and one
    scan with a character bitmap is cheaper than a table lookup per character.
    Characters beyond the BMP are rare: any of them sends the text to the table."""
    bmp = "".join(re.escape(chr(code)) for code in sorted(_fold_table()) if code < 0x10000)
    return re.compile(f"[{bmp}\U00010000-\U0010ffff]")


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters (what listings store as their title)."""
    return text.translate(_invisible())


@lru_cache(maxsize=16)  # the rules fold a listing's title several times in a row
def normalise(text: str) -> str:
    """Folded for matching: NFKC, lower case, no invisible characters, simplified script."""
    folded = unicodedata.normalize("NFKC", text).lower()
    if _needs_folding().search(folded) is None:
        return folded
    return folded.translate(_fold_table())


def fold_with_origin(text: str) -> tuple[str, list[int]]:
    """``normalise(text)`` character by character, with the index in ``text`` that
    each folded character came from (to quote what the supplier wrote)."""
    table = _fold_table()
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).lower().translate(table)
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin


def normalise_model(model: str) -> str:
    """HP LaserJet Pro M404dn, M404 dn and m404-dn all become ``m404dn`` etc."""
    return _MODEL_DROP.sub("", normalise(model))


def _quote(text: str, folded: str, start: int, end: int) -> str:
    """The part of ``text`` that became ``folded[start:end]``."""
    if len(folded) != len(text):
        folded, origin = fold_with_origin(text)
        if len(origin) != len(folded) or end > len(origin):  # pragma: no cover
            return folded[start:end]
        return text[origin[start] : origin[end - 1] + 1]
    return text[start:end]


class TermMatcher:
    """Finds listed terms in a text, except inside listed ordinary words.

    One Aho-Corasick automaton holds both lists; a term hit is dropped when an
    ordinary word found in the same text covers it (最新 covers 最; 第一代 covers
    第一). Matching is on the folded text (``normalise``), so 國家級, 国\u200b家级
    and ＮＯ．１ are found as 国家级 and no.1.
    """

    def __init__(self, terms: Iterable[str], exceptions: Iterable[str] = ()) -> None:
        self._automaton = ahocorasick.Automaton()
        for term in {normalise(t) for t in terms if t}:
            self._automaton.add_word(term, (True, term))
        for word in {normalise(w) for w in exceptions if w}:
            existing = self._automaton.get(word, None)
            if existing is None:
                self._automaton.add_word(word, (False, word))
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def _spans(self, folded: str) -> list[tuple[int, int, str]]:
        """Each term's first uncovered occurrence: (start, end, term), in order."""
        hits: list[tuple[int, int, str]] = []
        covers: list[tuple[int, int]] = []
        for end, (is_term, word) in self._automaton.iter(folded):
            start = end - len(word) + 1
            if is_term:
                hits.append((start, end + 1, word))
            else:
                covers.append((start, end + 1))
        found: list[tuple[int, int, str]] = []
        seen: set[str] = set()
        for start, end, word in hits:
            if any(c_start <= start and end <= c_end for c_start, c_end in covers):
                continue
            if word not in seen:
                seen.add(word)
                found.append((start, end, word))
        return found

    def find(self, text: str) -> list[str]:
        """The terms present, in order of appearance, each once."""
        if self._empty:
            return []
        return [word for _, _, word in self._spans(normalise(text))]

    def find_quoted(self, text: str) -> list[tuple[str, str]]:
        """Each term present with the text that spelled it (國家級 for 国家级)."""
        if self._empty:
            return []
        folded = normalise(text)
        return [(word, _quote(text, folded, s, e)) for s, e, word in self._spans(folded)]


_PHONE = re.compile(r"(?<![0-9a-z])(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|400-?\d{3}-?\d{4})(?![0-9a-z])")
_URL = re.compile(
    r"(?:https?://|www\.)\S+|(?<![0-9a-z])[a-z0-9-]+\.(?:com|cn|net|org|top|shop)(?![a-z])"
)
_CHAT = re.compile(
    r"(?:微信|薇信|威信|v信|vx|wx|weixin|wechat|qq|扣扣)\s*[:：号]?\s*[a-z0-9_-]{5,}"
)
_HINT = re.compile(r"\d{5}|www|http|\.[a-z]{2}|微信|薇信|威信|v信|vx|wx|weixin|wechat|qq|扣扣")
# Spaces and separators between digits (139 0472 0001, 139-0472-0001, 139.0472.0001).
_DIGIT_GAP = re.compile(r"(?<=\d)[\s\-‐‑‒–—―.·_()]{1,3}(?=\d)")


def _join_digits(folded: str) -> tuple[str, list[int]]:
    """``folded`` without separators between digits, and where each kept character was."""
    kept: list[str] = []
    origin: list[int] = []
    last = 0
    for gap in _DIGIT_GAP.finditer(folded):
        kept.append(folded[last : gap.start()])
        origin.extend(range(last, gap.start()))
        last = gap.end()
    kept.append(folded[last:])
    origin.extend(range(last, len(folded)))
    return "".join(kept), origin


def contact_details(text: str) -> list[str]:
    """Phone numbers, web addresses and chat ids found in ``text``, quoted as written.

    Digits are read across spaces and separators, so 139 0472 0001 is a phone
    number like 13904720001.
    """
    folded = normalise(text)
    joined = _DIGIT_GAP.sub("", folded)
    if not _HINT.search(joined):  # most titles: one cheap scan and done
        return []
    spans: list[tuple[int, int]] = []
    for pattern in (_PHONE, _URL, _CHAT):
        spans.extend(match.span() for match in pattern.finditer(joined))
    if not spans:
        return []
    _, origin = _join_digits(folded)
    return [_quote(text, folded, origin[start], origin[end - 1] + 1) for start, end in spans]
