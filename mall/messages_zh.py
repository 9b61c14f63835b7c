"""Chinese for the validators' English messages (msgspec and Litestar).

Problem details give each field error in both languages; the validators speak
English only, so their messages are matched here against the forms they take
and rendered in Chinese. A message of another form has no translation (None).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TYPES = {
    "int": "整数",
    "float": "数字",
    "number": "数字",
    "str": "字符串",
    "bool": "布尔值（true 或 false）",
    "object": "对象",
    "array": "数组",
    "null": "空值（null）",
    "uuid": "UUID",
    "datetime": "日期时间",
    "date": "日期",
    "time": "时间",
    "decimal": "十进制数",
    "bytes": "字节串",
    "duration": "时长",
}

_BOUNDS = {">=": "不小于", "<=": "不大于", ">": "大于", "<": "小于"}


def _type(name: str) -> str:
    return " 或 ".join(_TYPES.get(part.strip(), part.strip()) for part in name.split("|"))


def _bound(kind: str, op: str, value: str) -> str:
    if kind in ("str", "bytes"):
        return f"长度应{_BOUNDS[op]} {value}"
    if kind in ("array", "object"):
        return f"元素个数应{_BOUNDS[op]} {value}"
    return f"应{_BOUNDS[op]} {value}"


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`"),
        lambda m: f"类型应为{_type(m['want'])}，实际为{_type(m['got'])}",
    ),
    (
        re.compile(r"^Expected `(?P<kind>\w+)` of length (?P<op>>=|<=|>|<) (?P<value>\S+)"),
        lambda m: _bound(m["kind"], m["op"], m["value"]),
    ),
    (
        re.compile(r"^Expected `(?P<kind>\w+)` (?P<op>>=|<=|>|<) (?P<value>\S+)"),
        lambda m: _bound(m["kind"], m["op"], m["value"]),
    ),
    (
        re.compile(r"^Expected `\w+` that's a multiple of (?P<value>\S+)"),
        lambda m: f"应为 {m['value']} 的整数倍",
    ),
    (
        re.compile(r"^Expected `str` matching regex (?P<pattern>.+)$"),
        lambda m: f"格式不符合要求（应匹配 {m['pattern']}）",
    ),
    (
        re.compile(r"^Object missing required field `(?P<name>[^`]+)`"),
        lambda m: f"缺少必填字段 {m['name']}",
    ),
    (
        re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`"),
        lambda m: f"不接受未定义的字段 {m['name']}",
    ),
    (
        re.compile(r"^Invalid enum value (?P<value>.+)$"),
        lambda m: f"取值 {m['value']} 不在允许的范围内",
    ),
    (re.compile(r"^Invalid UUID"), lambda m: "UUID 格式无效"),
    (
        re.compile(r"^Invalid RFC3339 encoded datetime"),
        lambda m: "日期时间格式无效（应为 RFC 3339，如 2026-12-01T08:00:00+08:00）",
    ),
    (re.compile(r"^Invalid RFC3339 encoded date"), lambda m: "日期格式无效（应为 YYYY-MM-DD）"),
    (re.compile(r"^Invalid RFC3339 encoded time"), lambda m: "时间格式无效（应为 HH:MM:SS）"),
    (re.compile(r"^Invalid decimal string"), lambda m: "十进制数格式无效"),
    (re.compile(r"^Invalid ISO8601 duration"), lambda m: "时长格式无效（应为 ISO 8601）"),
    (re.compile(r"^Invalid base64 encoded string"), lambda m: "Base64 编码无效"),
    (re.compile(r"^required$"), lambda m: "必填"),
]


def translate(message: str) -> str | None:
    """The Chinese for one of the validators' messages, or None."""
    for pattern, render in _RULES:
        match = pattern.search(message)
        if match:
            return render(match)
    return None
