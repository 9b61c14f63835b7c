"""Text helpers for the rules: normalising model numbers, matching term
lists with an automaton, spotting contact details."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import ahocorasick

_MODEL_DROP = re.compile(r"[\s\-_/·.()（）\[\]【】]+")


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def normalise_model(model: str) -> str:
    """HP LaserJet Pro M404dn, M404 dn and m404-dn all become ``m404dn`` etc."""
    return _MODEL_DROP.sub("", normalise(model))


class TermMatcher:
    """Finds listed terms in a text, except inside listed ordinary words.

    One Aho-Corasick automaton holds both lists; a term hit is dropped when an
    ordinary word found in the same text covers it (最新 covers 最; 第一代 covers
    第一). Matching is on the NFKC, lower-cased text.
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

    def find(self, text: str) -> list[str]:
        """The terms present, in order of appearance, each once."""
        if self._empty:
            return []
        hits: list[tuple[int, int, str]] = []
        covers: list[tuple[int, int]] = []
        for end, (is_term, word) in self._automaton.iter(normalise(text)):
            start = end - len(word) + 1
            if is_term:
                hits.append((start, end, word))
            else:
                covers.append((start, end))
        found: list[str] = []
        for start, end, word in hits:
            if any(c_start <= start and end <= c_end for c_start, c_end in covers):
                continue
            if word not in found:
                found.append(word)
        return found


_PHONE = re.compile(r"(?<![0-9a-z])(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|400-?\d{3}-?\d{4})(?![0-9a-z])")
_URL = re.compile(
    r"(?:https?://|www\.)\S+|(?<![0-9a-z])[a-z0-9-]+\.(?:com|cn|net|org|top|shop)(?![a-z])"
)
_CHAT = re.compile(
    r"(?:微信|薇信|威信|v信|vx|wx|weixin|wechat|qq|扣扣)\s*[:：号]?\s*[a-z0-9_-]{5,}"
)
_HINT = re.compile(r"\d{5}|www|http|\.[a-z]{2}|微信|薇信|威信|v信|vx|wx|weixin|wechat|qq|扣扣")


def contact_details(text: str) -> list[str]:
    """Phone numbers, web addresses and chat ids found in ``text``."""
    lowered = normalise(text)
    if not _HINT.search(lowered):  # most titles: one cheap scan and done
        return []
    found: list[str] = []
    for pattern in (_PHONE, _URL, _CHAT):
        found.extend(match.group(0) for match in pattern.finditer(lowered))
    return found
