"""Tokens for documents and queries: Chinese words, model numbers, synonyms, safety."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from catalog.search.text import (
    highlight,
    index_tokens,
    model_candidates,
    query_groups,
    query_segments,
    to_tsquery,
)

SYNONYMS = {"电脑": ["计算机"], "计算机": ["电脑"], "洽谈椅": ["会议椅"], "会议椅": ["洽谈椅"]}


def test_documents_get_search_mode_tokens_folded() -> None:
    tokens = index_tokens("惠普（HP）LaserJet Pro M404dn 黑白激光打印机 Ａ４")
    assert {"惠普", "hp", "laserjet", "m404dn", "打印", "打印机", "激光打印机", "a4"} <= set(tokens)
    assert len(tokens) == len(set(tokens))


def test_model_numbers_with_spaces_and_hyphens_become_one() -> None:
    for query in ("M404dn", "m404 dn", "M404-DN", "Ｍ４０４ｄｎ"):
        assert "m404dn" in model_candidates(query), query
    assert to_tsquery(query_groups("m404 dn", {})) == "((m404:* & dn) | m404dn:*)"
    assert model_candidates("复印纸") == []


def test_synonyms_stand_for_each_other_and_phrases_are_recognised() -> None:
    assert to_tsquery(query_groups("电脑", SYNONYMS)) == "(电脑 | 计算机)"
    # jieba cuts 洽谈椅 in two; the synonym is still found.
    assert to_tsquery(query_groups("洽谈椅", SYNONYMS)) == "((洽谈 & 椅) | (会议 & 椅))"
    assert to_tsquery(query_groups("A4 70g", {}), all_required=False).count("|") >= 1


@given(st.text(max_size=300))
def test_no_query_can_inject_tsquery_syntax(query: str) -> None:
    text = to_tsquery(query_groups(query, SYNONYMS))
    assert all(not w or re.search(r"\d", w) for w in re.findall(r"([\w.]*):\*", text)), text
    # Only our own operators, parentheses and prefix marks (model-number words
    # only, checked above), around words of letters, digits and dots.
    text = re.sub(r"(?<=[\w.]):\*", "", text)
    words = re.split(r"[\s&|()]+", text)
    assert all(re.fullmatch(r"[\w.]+", w) and "_" not in w for w in words if w), text
    assert ":" not in text and "!" not in text and "*" not in text and "'" not in text


def test_operator_characters_are_dropped_not_passed_on() -> None:
    assert query_segments("& | ! ( ) : *") == []
    assert to_tsquery(query_groups("打印机 & !复印 | (:*)", {})) == "(打印机) & (复印)"


def test_highlight_marks_the_query_words() -> None:
    marked = highlight("惠普（HP）LaserJet Pro M404dn 黑白激光打印机", ["m404dn", "激光"])
    assert "<em>M404dn</em>" in marked and "<em>激光</em>" in marked
    assert highlight("复印纸", []) == "复印纸"


def test_model_words_are_prefixes_and_o_reads_as_zero() -> None:
    from catalog.search.text import model_candidates, query_groups, to_tsquery, zero_for_o

    assert zero_for_o("m4o4dn") == "m404dn" and zero_for_o("lbp29oo") == "lbp2900"
    assert zero_for_o("optiplex") == "optiplex" and zero_for_o("o2o") == "020"
    assert to_tsquery(query_groups("M404", {})) == "(m404:*)"
    assert "m404dn:*" in to_tsquery(query_groups("M4O4dn", {}))
    assert "(hp & m404dn:*)" in to_tsquery(query_groups("HP M4O4dn", {}))
    assert "m404dn" in model_candidates("M4O4dn")
    # Only a relaxed query forgives a wrong last letter; words are never prefixes.
    assert to_tsquery(query_groups("M404dm", {})) == "(m404dm:*)"
    assert "m404d:*" in to_tsquery(query_groups("M404dm", {}), all_required=False)
    assert to_tsquery(query_groups("打印机 A4", {})) == "(打印机) & (a4)"
