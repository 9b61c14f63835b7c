"""The search relevance set: queries over the demo catalogue, judged by hand.

Each query maps demo product keys (catalog/demo_catalogue.py) to a grade:
2 the product asked for, 1 a reasonable answer. Unlisted products are 0.
Scored by nDCG@10 and recall@10 (found among the first 10 / min(10, judged)),
in tests/mall/test_search_relevance.py and by the search benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

LASER = [
    "hp-m404dn",
    "hp-m405d",
    "canon-lbp2900",
    "canon-lbp913w",
    "brother-hl-2260d",
    "pantum-p3301dn",
    "pantum-cp2510dn",
    "lenovo-lj2605d",
    "deli-p2500dnw",
    "hp-a3-m706n",
]
PCS = [
    "lenovo-m4000s",
    "lenovo-m437",
    "lenovo-kaitian-m90z",
    "dell-optiplex-7010",
    "dell-vostro-3020",
    "hp-prodesk-400g9",
    "huawei-b730",
    "tongfang-chaoxiang",
]
LAPTOPS = [
    "lenovo-thinkpad-e14",
    "lenovo-zhaoyang-e5",
    "hp-probook-440",
    "dell-latitude-5440",
    "huawei-matebook-d14",
    "xiaomi-redmibook-14",
]
PAPER_A4_70 = [
    "deli-a4-70g",
    "asiasymbol-a4-70g",
    "app-a4-70g",
    "chenguang-a4-70g",
    "deli-a4-70g-box",
]
PAPER_A4_80 = ["deli-a4-80g", "asiasymbol-a4-80g", "comix-a4-80g"]
PAPER = [*PAPER_A4_70, *PAPER_A4_80, "deli-a3-70g"]
M404_SUPPLIES = {"hp-cf276a": 1, "gg-cf276a-compatible": 1, "deli-dbh-276a": 1}
COPIERS = ["canon-ir2625", "ricoh-im2702", "kyocera-2020", "sharp-m2658u"]
MFPS = ["hp-m232dw", "brother-dcp-b7535dw", "pantum-m7160dw", "canon-mf643cdw", "hp-m126a"]
INKJETS = ["epson-l3251", "epson-l8058", "canon-g3800", "hp-smart-tank-519"]


def grades(keys: Sequence[str], grade: int = 2) -> dict[str, int]:
    return dict.fromkeys(keys, grade)


JUDGEMENTS: dict[str, dict[str, int]] = {
    "激光打印机": grades(LASER),
    "M404dn": {"hp-m404dn": 2, **M404_SUPPLIES},
    "m404 dn": {"hp-m404dn": 2, **M404_SUPPLIES},
    "M404-DN": {"hp-m404dn": 2, **M404_SUPPLIES},
    "HP LaserJet Pro M404dn": {"hp-m404dn": 2, "hp-m405d": 1},
    "惠普 激光打印机": {
        **grades(["hp-m404dn", "hp-m405d", "hp-a3-m706n"]),
        "hp-m126a": 1,
        "hp-m232dw": 1,
    },
    "deli 复印纸": grades(["deli-a4-70g", "deli-a4-80g", "deli-a3-70g", "deli-a4-70g-box"]),
    "得力 A4 70g": {"deli-a4-70g": 2, "deli-a4-70g-box": 2, "deli-a4-80g": 1},
    "A4 70g": {**grades(PAPER_A4_70), **grades(PAPER_A4_80, 1)},
    "A3 复印纸": {"deli-a3-70g": 2},
    "复印纸 80g": grades(PAPER_A4_80),
    "打印纸": grades(PAPER, 1),
    "电脑": grades([*PCS, *LAPTOPS], 1),
    "计算机": grades([*PCS, *LAPTOPS], 1),
    "台式机": grades(PCS),
    "笔记本": grades(LAPTOPS),
    "联想 笔记本": grades(["lenovo-thinkpad-e14", "lenovo-zhaoyang-e5"]),
    "lenovo 台式机": grades(["lenovo-m4000s", "lenovo-m437", "lenovo-kaitian-m90z"]),
    "ThinkPad": {"lenovo-thinkpad-e14": 2},
    "thinkpd e14": {"lenovo-thinkpad-e14": 2},
    "格力 空调": grades(["gree-kfr-35gw", "gree-kfr-72lw"]),
    "gree 1.5匹": {"gree-kfr-35gw": 2},
    "柜式空调": grades(["gree-kfr-72lw", "midea-kfr-51lw"]),
    "壁挂式 空调 美的": {"midea-kfr-35gw": 2},
    "KFR-35GW": grades(["gree-kfr-35gw", "midea-kfr-35gw"]),
    "硒鼓 76A": {"hp-cf276a": 2, "gg-cf276a-compatible": 1, "deli-dbh-276a": 1},
    "CF276A": {"hp-cf276a": 2},
    "适用M404dn 硒鼓": grades(["hp-cf276a", "gg-cf276a-compatible", "deli-dbh-276a"]),
    "佳能 LBP2900": {"canon-lbp2900": 2, "canon-crg-912": 1},
    "lbp 2900": {"canon-lbp2900": 2, "canon-crg-912": 1},
    "针式打印机": grades(["epson-lq-630k", "epson-lq-1900k", "jolimark-fp-630k"]),
    "发票打印机": grades(["epson-lq-630k", "jolimark-fp-630k"]),
    "复印机 A3": grades(COPIERS),
    "理光 复印机": {"ricoh-im2702": 2},
    "多功能一体机": grades(MFPS),
    "服务器": grades(["huawei-2288h-v6", "dell-r750", "inspur-nf5280m6"]),
    "华为 服务器": {"huawei-2288h-v6": 2},
    "2288H V6": {"huawei-2288h-v6": 2},
    "办公椅 网布": grades(["sihoo-m57", "heimiao-staff-chair"]),
    "人体工学椅": {"sihoo-m57": 2},
    "会议椅": grades(["heimiao-staff-chair", "meeting-chair-wood"]),
    "墨粉": grades(["hp-toner-bottle", "pantum-tn-405", "lenovo-ld2441-toner", "kyocera-tk-4128"]),
    "奔图 国产 打印机": grades(["pantum-p3301dn", "pantum-cp2510dn", "pantum-m7160dw"]),
    "彩色喷墨打印机": grades(INKJETS),
    "连供打印机": grades(["canon-g3800", "hp-smart-tank-519"]),
    "信创 台式计算机": grades(["lenovo-kaitian-m90z", "tongfang-chaoxiang"]),
    "晨光 复印纸": {"chenguang-a4-70g": 2},
    "M&G 复印纸": {"chenguang-a4-70g": 2},
    "齐心 A4 80g": {"comix-a4-80g": 2},
    "兄弟 粉盒": {"brother-tn-2325": 2},
    "Epson LQ-630K": {"epson-lq-630k": 2},
    # Model numbers as purchasers type them: a prefix, a brand alias with the
    # model, a typo, a letter O for a zero.
    "M404": {"hp-m404dn": 2, **M404_SUPPLIES},
    "HP M404": {"hp-m404dn": 2, "hp-cf276a": 1},
    "惠普 M404": {"hp-m404dn": 2, "hp-cf276a": 1},
    "M404dm": {"hp-m404dn": 2},
    "M4O4dn": {"hp-m404dn": 2},
    "HP M4O4dn": {"hp-m404dn": 2},
    "HP M404dm": {"hp-m404dn": 2},
    "惠普 M4O4dn": {"hp-m404dn": 2},
    "LBP29OO": {"canon-lbp2900": 2, "canon-crg-912": 1},
    "canon LBP2900": {"canon-lbp2900": 2, "canon-crg-912": 1},
    "Lenovo M437": {"lenovo-m437": 2},
    "得力 P2500": {"deli-p2500dnw": 2},
    "ThinkPad E15": {"lenovo-thinkpad-e14": 2},
}


def ndcg_at_10(ranked: Sequence[str], judged: Mapping[str, int]) -> float:
    def dcg(gains: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains[:10]))

    ideal = dcg(sorted(judged.values(), reverse=True))
    return dcg([judged.get(k, 0) for k in ranked]) / ideal if ideal else 0.0


def recall_at_10(ranked: Sequence[str], judged: Mapping[str, int]) -> float:
    relevant = {k for k, g in judged.items() if g > 0}
    found = len(relevant & set(ranked[:10]))
    return found / min(10, len(relevant)) if relevant else 0.0
