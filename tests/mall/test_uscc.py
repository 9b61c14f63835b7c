"""The unified social credit code check (GB 32100-2015)."""

from __future__ import annotations

import pytest

from mall.suppliers.stats import share
from mall.suppliers.uscc import ALPHABET, uscc_problem

# Published codes of well-known companies.
PUBLISHED = [
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91110000802100433B",  # 中国银行股份有限公司
]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code: str) -> None:
    assert uscc_problem(code) is None


@pytest.mark.parametrize("code", PUBLISHED)
def test_every_single_character_corruption_is_caught(code: str) -> None:
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == code[position]:
                continue
            corrupted = code[:position] + replacement + code[position + 1 :]
            assert uscc_problem(corrupted) is not None, corrupted


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91440300708461136", "18 characters"),
        ("91440300708461136TX", "18 characters"),
        ("9144030070846113IT", "not allowed"),
        ("9144030070846113OT", "not allowed"),
        ("9144030070846113ST", "not allowed"),
        ("9144030070846113VT", "not allowed"),
        ("9144030070846113ZT", "not allowed"),
        ("91A4030070846113 T", "not allowed"),
        ("91440300708461136A", "check character"),
    ],
)
def test_malformed_codes_say_why(code: str, fragment: str) -> None:
    problem = uscc_problem(code)
    assert problem is not None and fragment in problem


def test_shares_reproduce_the_published_figures() -> None:
    # Baotou: 2,823 suppliers, 2,348 in the region (83.17%), 475 individual businesses (16.83%).
    assert share(2348, 2823) == 83.17
    assert share(475, 2823) == 16.83
    assert share(0, 0) == 0.0
