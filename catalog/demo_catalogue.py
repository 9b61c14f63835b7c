"""The demo catalogue: products a municipal e-mall typically carries.

``mall seed-demo`` puts them on sale for the two demo suppliers, and the
search relevance set (tests/search_judgements.py) is judged against them:
each product has a stable ``key``.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw

PC, LAPTOP, SERVER = "A02010104", "A02010105", "A02010103"
INKJET, LASER, DOT = "A0201060101", "A0201060102", "A0201060104"
COPIER, MFP, AIRCON, CHAIR = "A020201", "A020204", "A0206180203", "A060201"
PAPER, CARTRIDGE, TONER = "A090101", "A090201", "A090202"


@dataclass(frozen=True)
class DemoProduct:
    key: str
    category: str
    brand: str
    model: str
    title: str
    price: str
    unit: str
    attributes: dict[str, Any] = field(default_factory=dict)
    energy_cert_no: str | None = None

    @property
    def amount(self) -> Decimal:
        return Decimal(self.price)


def _pc(cpu: str, ram: int, disk: int, os_: str = "国产操作系统", **extra: Any) -> dict[str, Any]:
    return {"CPU型号": cpu, "内存容量": ram, "硬盘容量": disk, "操作系统": os_, **extra}


def _printer(speed: int, fmt: str = "A4", **extra: Any) -> dict[str, Any]:
    return {"打印速度": speed, "最大打印幅面": fmt, **extra}


def _paper(fmt: str, grams: int, sheets: int = 500, packs: int = 5) -> dict[str, Any]:
    return {"幅面": fmt, "克重": grams, "每包张数": sheets, "每箱包数": packs}


P = DemoProduct
DEMO_PRODUCTS: tuple[DemoProduct, ...] = (
    # Desktop computers (台式计算机)
    P(
        "lenovo-m4000s",
        PC,
        "联想",
        "扬天M4000s",
        "联想（Lenovo）扬天M4000s 台式计算机 i5-12400 16G 512G 固态 商用办公电脑",
        "4599.00",
        "台",
        _pc("i5-12400", 16, 512, 显示器尺寸=23.8, 能效等级="1级"),
        "CQC-2026-0001",
    ),
    P(
        "lenovo-m437",
        PC,
        "联想",
        "启天M437",
        "联想 启天M437 台式机 i5-10500 8G 1T 国产操作系统 商用台式电脑",
        "3899.00",
        "台",
        _pc("i5-10500", 8, 1024, 能效等级="2级"),
        "CQC-2026-0002",
    ),
    P(
        "lenovo-kaitian-m90z",
        PC,
        "联想",
        "开天M90z G1t",
        "联想开天M90z G1t 一体台式计算机 兆芯KX-U6780A 16G 512G 统信UOS 信创电脑",
        "6299.00",
        "台",
        _pc("KX-U6780A", 16, 512, 显示器尺寸=23.8),
        "CQC-2026-0003",
    ),
    P(
        "dell-optiplex-7010",
        PC,
        "戴尔",
        "OptiPlex 7010",
        "戴尔（DELL）OptiPlex 7010 台式计算机 i7-13700 16G 1T 固态 Windows 商用主机",
        "6899.00",
        "台",
        _pc("i7-13700", 16, 1024, "Windows"),
        None,
    ),
    P(
        "dell-vostro-3020",
        PC,
        "戴尔",
        "成就3020",
        "戴尔 成就3020 台式电脑 i3-13100 8G 512G 办公家用主机",
        "3299.00",
        "台",
        _pc("i3-13100", 8, 512, "Windows"),
        None,
    ),
    P(
        "hp-prodesk-400g9",
        PC,
        "惠普",
        "ProDesk 400 G9",
        "惠普（HP）ProDesk 400 G9 商用台式机 i5-12500 16G 512G 固态",
        "4999.00",
        "台",
        _pc("i5-12500", 16, 512, "Windows"),
        "CQC-2026-0004",
    ),
    P(
        "huawei-b730",
        PC,
        "华为",
        "擎云B730",
        "华为 擎云B730 台式计算机 i5-12500 16G 512G 办公电脑 鸿蒙生态",
        "5399.00",
        "台",
        _pc("i5-12500", 16, 512),
        "CQC-2026-0005",
    ),
    P(
        "tongfang-chaoxiang",
        PC,
        "清华同方",
        "超翔Z8000",
        "清华同方 超翔Z8000 国产台式计算机 飞腾D2000 16G 512G 麒麟操作系统 信创",
        "5799.00",
        "台",
        _pc("飞腾D2000", 16, 512),
        None,
    ),
    # Laptops (便携式计算机)
    P(
        "lenovo-thinkpad-e14",
        LAPTOP,
        "联想",
        "ThinkPad E14",
        "联想ThinkPad E14 14英寸 笔记本电脑 i5-1340P 16G 512G 轻薄商务本",
        "5499.00",
        "台",
        _pc("i5-1340P", 16, 512, "Windows", 屏幕尺寸=14, 重量=1.4),
        "CQC-2026-0006",
    ),
    P(
        "lenovo-zhaoyang-e5",
        LAPTOP,
        "联想",
        "昭阳E5",
        "联想 昭阳E5 15.6英寸 便携式计算机 i5-1235U 16G 512G 商务办公笔记本",
        "4799.00",
        "台",
        _pc("i5-1235U", 16, 512, 屏幕尺寸=15.6, 重量=1.7),
        "CQC-2026-0007",
    ),
    P(
        "hp-probook-440",
        LAPTOP,
        "惠普",
        "ProBook 440 G10",
        "惠普（HP）战66 ProBook 440 G10 14英寸 笔记本电脑 i5-1335U 16G 512G",
        "5199.00",
        "台",
        _pc("i5-1335U", 16, 512, "Windows", 屏幕尺寸=14, 重量=1.4),
        None,
    ),
    P(
        "dell-latitude-5440",
        LAPTOP,
        "戴尔",
        "Latitude 5440",
        "戴尔（DELL）Latitude 5440 14英寸 商用笔记本 i7-1355U 16G 1T",
        "7599.00",
        "台",
        _pc("i7-1355U", 16, 1024, "Windows", 屏幕尺寸=14, 重量=1.5),
        None,
    ),
    P(
        "huawei-matebook-d14",
        LAPTOP,
        "华为",
        "MateBook D 14",
        "华为 MateBook D 14 笔记本电脑 14英寸 i5-12450H 16G 512G 护眼全面屏",
        "4699.00",
        "台",
        _pc("i5-12450H", 16, 512, "Windows", 屏幕尺寸=14, 重量=1.39),
        None,
    ),
    P(
        "xiaomi-redmibook-14",
        LAPTOP,
        "小米",
        "RedmiBook 14",
        "小米 Redmi Book 14 轻薄笔记本 i5-12500H 16G 512G 2.8K高刷屏",
        "3999.00",
        "台",
        _pc("i5-12500H", 16, 512, "Windows", 屏幕尺寸=14, 重量=1.37),
        None,
    ),
    # Servers (服务器)
    P(
        "huawei-2288h-v6",
        SERVER,
        "华为",
        "FusionServer 2288H V6",
        "华为 FusionServer 2288H V6 机架式服务器 2U 双路至强银牌4314 64G 4T",
        "38999.00",
        "台",
        {"CPU型号": "至强银牌4314", "内存容量": 64, "硬盘容量": 4096, "CPU数量": 2},
    ),
    P(
        "dell-r750",
        SERVER,
        "戴尔",
        "PowerEdge R750",
        "戴尔（DELL）PowerEdge R750 2U机架式服务器 双路至强金牌5318Y 128G 8T",
        "56999.00",
        "台",
        {"CPU型号": "至强金牌5318Y", "内存容量": 128, "硬盘容量": 8192, "CPU数量": 2},
    ),
    P(
        "inspur-nf5280m6",
        SERVER,
        "浪潮",
        "NF5280M6",
        "浪潮（INSPUR）NF5280M6 机架式服务器 双路银牌4310 64G 2*4T 数据库服务器",
        "42999.00",
        "台",
        {"CPU型号": "至强银牌4310", "内存容量": 64, "硬盘容量": 8192, "CPU数量": 2},
    ),
    # Laser printers (激光打印机)
    P(
        "hp-m404dn",
        LASER,
        "惠普",
        "LaserJet Pro M404dn",
        "惠普（HP）LaserJet Pro M404dn 黑白激光打印机 A4 自动双面 有线网络",
        "2399.00",
        "台",
        _printer(38, 双面打印=True, 网络打印=True),
        "CQC-2026-0101",
    ),
    P(
        "hp-m405d",
        LASER,
        "惠普",
        "LaserJet Pro M405d",
        "惠普 LaserJet Pro M405d 黑白激光打印机 A4 自动双面打印 办公商用",
        "2199.00",
        "台",
        _printer(38, 双面打印=True, 网络打印=False),
        "CQC-2026-0102",
    ),
    P(
        "hp-m126a",
        MFP,
        "惠普",
        "LaserJet Pro MFP M126a",
        "惠普（HP）LaserJet Pro MFP M126a 黑白激光多功能一体机 打印复印扫描 A4 家用办公",
        "1399.00",
        "台",
        _printer(20, 功能="打印 复印 扫描"),
    ),
    P(
        "canon-lbp2900",
        LASER,
        "佳能",
        "LBP2900+",
        "佳能（Canon）LBP2900+ 黑白激光打印机 A4 小型办公 USB连接",
        "1099.00",
        "台",
        _printer(14, 双面打印=False, 网络打印=False),
        "CQC-2026-0103",
    ),
    P(
        "canon-lbp913w",
        LASER,
        "佳能",
        "LBP913w",
        "佳能 LBP913w 黑白激光打印机 无线WiFi 家用办公 A4",
        "899.00",
        "台",
        _printer(18, 双面打印=False, 网络打印=True),
    ),
    P(
        "brother-hl-2260d",
        LASER,
        "兄弟",
        "HL-2260D",
        "兄弟（brother）HL-2260D 黑白激光打印机 自动双面 A4 办公",
        "1199.00",
        "台",
        _printer(26, 双面打印=True, 网络打印=False),
        "CQC-2026-0104",
    ),
    P(
        "pantum-p3301dn",
        LASER,
        "奔图",
        "P3301DN",
        "奔图（PANTUM）P3301DN 国产黑白激光打印机 A4 自动双面 网络 信创",
        "1699.00",
        "台",
        _printer(33, 双面打印=True, 网络打印=True),
        "CQC-2026-0105",
    ),
    P(
        "pantum-cp2510dn",
        LASER,
        "奔图",
        "CP2510DN",
        "奔图 CP2510DN 彩色激光打印机 A4 自动双面 有线网络 国产信创",
        "3999.00",
        "台",
        _printer(25, 双面打印=True, 网络打印=True),
    ),
    P(
        "lenovo-lj2605d",
        LASER,
        "联想",
        "LJ2605D",
        "联想（Lenovo）LJ2605D 黑白激光打印机 A4 自动双面 办公家用",
        "999.00",
        "台",
        _printer(26, 双面打印=True, 网络打印=False),
    ),
    P(
        "deli-p2500dnw",
        LASER,
        "得力",
        "P2500DNW",
        "得力（deli）P2500DNW 黑白激光打印机 A4 双面 无线 办公",
        "1299.00",
        "台",
        _printer(28, 双面打印=True, 网络打印=True),
    ),
    P(
        "hp-a3-m706n",
        LASER,
        "惠普",
        "LaserJet Pro M706n",
        "惠普 LaserJet Pro M706n A3 黑白激光打印机 大幅面 网络打印",
        "6699.00",
        "台",
        _printer(35, "A3", 双面打印=False, 网络打印=True),
    ),
    # Inkjet printers (喷墨打印机)
    P(
        "epson-l3251",
        INKJET,
        "爱普生",
        "L3251",
        "爱普生（EPSON）L3251 彩色喷墨墨仓式打印机 打印复印扫描 无线 A4",
        "1149.00",
        "台",
        _printer(10, 彩色打印=True),
    ),
    P(
        "epson-l8058",
        INKJET,
        "爱普生",
        "L8058",
        "爱普生 L8058 彩色喷墨照片打印机 6色墨仓 A4 无线",
        "2999.00",
        "台",
        _printer(8, 彩色打印=True),
    ),
    P(
        "canon-g3800",
        INKJET,
        "佳能",
        "G3800",
        "佳能 G3800 加墨式彩色喷墨一体打印机 A4 无线 连供",
        "1099.00",
        "台",
        _printer(9, 彩色打印=True),
    ),
    P(
        "hp-smart-tank-519",
        INKJET,
        "惠普",
        "Smart Tank 519",
        "惠普（HP）Smart Tank 519 彩色喷墨连供打印机 无线 A4 墨仓",
        "1199.00",
        "台",
        _printer(11, 彩色打印=True),
    ),
    # Dot-matrix printers (针式打印机)
    P(
        "epson-lq-630k",
        DOT,
        "爱普生",
        "LQ-630KII",
        "爱普生（EPSON）LQ-630KII 针式打印机 82列 发票 票据 快递单打印",
        "1599.00",
        "台",
        {"打印列数": "80", "复写能力": 7},
    ),
    P(
        "epson-lq-1900k",
        DOT,
        "爱普生",
        "LQ-1900KIIH",
        "爱普生 LQ-1900KIIH 136列 宽行针式打印机 报表打印",
        "3899.00",
        "台",
        {"打印列数": "136", "复写能力": 5},
    ),
    P(
        "jolimark-fp-630k",
        DOT,
        "映美",
        "FP-630K+",
        "映美（Jolimark）FP-630K+ 针式打印机 80列 税控发票打印",
        "1299.00",
        "台",
        {"打印列数": "80", "复写能力": 7},
    ),
    # Copiers (复印机)
    P(
        "canon-ir2625",
        COPIER,
        "佳能",
        "iR 2625",
        "佳能（Canon）iR 2625 A3黑白数码复合机 复印机 25页 双面 网络",
        "9800.00",
        "台",
        {"复印速度": 25, "最大打印幅面": "A3"},
        "CQC-2026-0201",
    ),
    P(
        "ricoh-im2702",
        COPIER,
        "理光",
        "IM 2702",
        "理光（Ricoh）IM 2702 A3黑白复印机 数码复合机 27页 打印复印扫描",
        "10500.00",
        "台",
        {"复印速度": 27, "最大打印幅面": "A3"},
    ),
    P(
        "kyocera-2020",
        COPIER,
        "京瓷",
        "TASKalfa 2020",
        "京瓷（KYOCERA）TASKalfa 2020 A3黑白复印机 20页 办公复合机",
        "7999.00",
        "台",
        {"复印速度": 20, "最大打印幅面": "A3"},
    ),
    P(
        "sharp-m2658u",
        COPIER,
        "夏普",
        "MX-M2658U",
        "夏普（SHARP）MX-M2658U A3黑白数码复合机 复印机 26页",
        "9200.00",
        "台",
        {"复印速度": 26, "最大打印幅面": "A3"},
    ),
    # Multifunction printers (多功能一体机)
    P(
        "hp-m232dw",
        MFP,
        "惠普",
        "LaserJet Pro MFP M232dw",
        "惠普（HP）LaserJet Pro MFP M232dw 黑白激光多功能一体机 自动双面 无线 打印复印扫描",
        "1899.00",
        "台",
        _printer(30, 功能="打印 复印 扫描"),
    ),
    P(
        "brother-dcp-b7535dw",
        MFP,
        "兄弟",
        "DCP-B7535DW",
        "兄弟 DCP-B7535DW 黑白激光多功能一体机 无线 双面 打印复印扫描",
        "1999.00",
        "台",
        _printer(34, 功能="打印 复印 扫描"),
    ),
    P(
        "pantum-m7160dw",
        MFP,
        "奔图",
        "M7160DW",
        "奔图 M7160DW 黑白激光多功能一体机 打印复印扫描 双面 无线 国产",
        "1799.00",
        "台",
        _printer(33, 功能="打印 复印 扫描"),
    ),
    P(
        "canon-mf643cdw",
        MFP,
        "佳能",
        "MF643Cdw",
        "佳能 MF643Cdw 彩色激光多功能一体机 打印复印扫描 无线 双面",
        "3699.00",
        "台",
        _printer(21, 功能="打印 复印 扫描"),
    ),
    # Air conditioners (空调机)
    P(
        "gree-kfr-35gw",
        AIRCON,
        "格力",
        "KFR-35GW/NhGc1B",
        "格力（GREE）云佳 1.5匹 变频冷暖 壁挂式空调 KFR-35GW/NhGc1B 新一级能效",
        "2899.00",
        "台",
        {"制冷量": 3500, "能效等级": "1级", "类型": "壁挂式", "变频": True},
        "CQC-2026-0301",
    ),
    P(
        "gree-kfr-72lw",
        AIRCON,
        "格力",
        "KFR-72LW/NhAa1BAj",
        "格力 3匹 柜式空调 KFR-72LW/NhAa1BAj 变频冷暖 立式 一级能效 客厅办公室",
        "7999.00",
        "台",
        {"制冷量": 7200, "能效等级": "1级", "类型": "柜式", "变频": True},
        "CQC-2026-0302",
    ),
    P(
        "midea-kfr-35gw",
        AIRCON,
        "美的",
        "KFR-35GW/N8XHC1",
        "美的（Midea）酷省电 1.5匹 新一级能效 变频冷暖 壁挂式空调 KFR-35GW/N8XHC1",
        "2699.00",
        "台",
        {"制冷量": 3500, "能效等级": "1级", "类型": "壁挂式", "变频": True},
        "CQC-2026-0303",
    ),
    P(
        "midea-kfr-51lw",
        AIRCON,
        "美的",
        "KFR-51LW/N8MJA3",
        "美的 2匹 立式柜机空调 KFR-51LW/N8MJA3 变频冷暖 三级能效",
        "4599.00",
        "台",
        {"制冷量": 5100, "能效等级": "3级", "类型": "柜式", "变频": True},
    ),
    P(
        "haier-kfr-26gw",
        AIRCON,
        "海尔",
        "KFR-26GW/B1KBB81U1",
        "海尔（Haier）大1匹 壁挂式空调 KFR-26GW/B1KBB81U1 变频冷暖 一级能效 自清洁",
        "2299.00",
        "台",
        {"制冷量": 2600, "能效等级": "1级", "类型": "壁挂式", "变频": True},
        "CQC-2026-0304",
    ),
    P(
        "haier-ceiling-5p",
        AIRCON,
        "海尔",
        "KFRd-120QW",
        "海尔 5匹 吸顶式天花机 商用中央空调 KFRd-120QW 冷暖 三相电",
        "12999.00",
        "台",
        {"制冷量": 12000, "能效等级": "2级", "类型": "吸顶式", "变频": False},
    ),
    # Office chairs (办公椅)
    P(
        "sihoo-m57",
        CHAIR,
        "西昊",
        "M57",
        "西昊（SIHOO）M57 人体工学椅 网布办公椅 电脑椅 护腰 可升降",
        "599.00",
        "把",
        {"材质": "网布", "扶手": True, "承重": 150},
    ),
    P(
        "heimiao-staff-chair",
        CHAIR,
        "黑白调",
        "P2",
        "黑白调 P2 职员椅 网布 会议椅 办公室电脑椅 带扶手",
        "329.00",
        "把",
        {"材质": "网布", "扶手": True, "承重": 120},
    ),
    P(
        "ue-leather-chair",
        CHAIR,
        "永艺",
        "BL-3022",
        "永艺 BL-3022 皮革老板椅 大班椅 办公椅 可躺 真皮",
        "1599.00",
        "把",
        {"材质": "皮革", "扶手": True, "承重": 150},
    ),
    P(
        "meeting-chair-wood",
        CHAIR,
        "震旦",
        "MC-01",
        "震旦（AURORA）MC-01 实木会议椅 培训椅 办公椅 无扶手",
        "459.00",
        "把",
        {"材质": "实木", "扶手": False, "承重": 120},
    ),
    # Copy paper (复印纸)
    P(
        "deli-a4-70g",
        PAPER,
        "得力",
        "7400",
        "得力（deli）7400 A4 复印纸 70g 500张/包 5包/箱 打印纸 白纸",
        "24.90",
        "包",
        _paper("A4", 70),
    ),
    P(
        "deli-a4-80g",
        PAPER,
        "得力",
        "7401",
        "得力 7401 A4 复印纸 80g 500张/包 加厚打印纸 办公用纸",
        "29.90",
        "包",
        _paper("A4", 80),
    ),
    P(
        "deli-a3-70g",
        PAPER,
        "得力",
        "7402",
        "得力 7402 A3 复印纸 70g 500张/包 大幅面打印纸",
        "49.90",
        "包",
        _paper("A3", 70),
    ),
    P(
        "asiasymbol-a4-70g",
        PAPER,
        "亚太森博",
        "百旺 A4 70g",
        "亚太森博 百旺 A4 70g 复印纸 500张/包 8包/箱 双面打印纸",
        "23.50",
        "包",
        _paper("A4", 70, packs=8),
    ),
    P(
        "asiasymbol-a4-80g",
        PAPER,
        "亚太森博",
        "新绿蓝 A4 80g",
        "亚太森博 新绿蓝 A4 80g 复印纸 500张/包 高白度打印纸",
        "28.80",
        "包",
        _paper("A4", 80),
    ),
    P(
        "app-a4-70g",
        PAPER,
        "金光",
        "金旗舰 A4 70g",
        "金光（APP）金旗舰 A4 70g 复印纸 500张/包 5包/箱 办公打印纸",
        "25.50",
        "包",
        _paper("A4", 70),
    ),
    P(
        "chenguang-a4-70g",
        PAPER,
        "晨光",
        "APYVQ959",
        "晨光（M&G）APYVQ959 A4 复印纸 70g 500张/包 5包/箱 米黄护眼打印纸",
        "22.90",
        "包",
        _paper("A4", 70),
    ),
    P(
        "comix-a4-80g",
        PAPER,
        "齐心",
        "C5085",
        "齐心（Comix）C5085 A4 复印纸 80g 500张/包 高档打印纸",
        "27.90",
        "包",
        _paper("A4", 80),
    ),
    P(
        "deli-a4-70g-box",
        PAPER,
        "得力",
        "7400-5",
        "得力 7400-5 A4 复印纸 70g 整箱装 500张×5包 2500张 办公白纸",
        "119.00",
        "箱",
        _paper("A4", 70),
    ),
    # Toner cartridges (硒鼓)
    P(
        "hp-cf276a",
        CARTRIDGE,
        "惠普",
        "CF276A",
        "惠普（HP）CF276A 76A 黑色原装硒鼓 适用M404dn M404n M428fdw",
        "699.00",
        "个",
        {"适用机型": "M404dn M404n M428fdw", "打印页数": 3000, "颜色": "黑色"},
    ),
    P(
        "hp-cf277a",
        CARTRIDGE,
        "惠普",
        "CF277A",
        "惠普 CF277A 77A 黑色原装硒鼓 适用M405d M429fdw",
        "749.00",
        "个",
        {"适用机型": "M405d M429fdw", "打印页数": 2400, "颜色": "黑色"},
    ),
    P(
        "hp-cf230a",
        CARTRIDGE,
        "惠普",
        "CF230A",
        "惠普（HP）CF230A 30A 黑色硒鼓 适用M203dn M227fdw",
        "529.00",
        "个",
        {"适用机型": "M203dn M227fdw", "打印页数": 1600, "颜色": "黑色"},
    ),
    P(
        "canon-crg-912",
        CARTRIDGE,
        "佳能",
        "CRG-912",
        "佳能（Canon）CRG-912 原装硒鼓 适用LBP2900 LBP3018 LBP3050",
        "459.00",
        "个",
        {"适用机型": "LBP2900 LBP3018 LBP3050", "打印页数": 1500, "颜色": "黑色"},
    ),
    P(
        "brother-tn-2325",
        CARTRIDGE,
        "兄弟",
        "TN-2325",
        "兄弟（brother）TN-2325 黑色粉盒 适用HL-2260D DCP-7080D",
        "329.00",
        "个",
        {"适用机型": "HL-2260D DCP-7080D", "打印页数": 2600, "颜色": "黑色"},
    ),
    P(
        "pantum-to-405",
        CARTRIDGE,
        "奔图",
        "TO-405",
        "奔图 TO-405 原装粉盒 硒鼓 适用P3301DN M7160DW",
        "299.00",
        "个",
        {"适用机型": "P3301DN M7160DW", "打印页数": 6000, "颜色": "黑色"},
    ),
    P(
        "gg-cf276a-compatible",
        CARTRIDGE,
        "格之格",
        "NT-CH276A",
        "格之格 NT-CH276A 兼容硒鼓 适用惠普M404dn M428fdw 76A",
        "189.00",
        "个",
        {"适用机型": "M404dn M428fdw", "打印页数": 3000, "颜色": "黑色"},
    ),
    P(
        "deli-dbh-276a",
        CARTRIDGE,
        "得力",
        "DBH-276A",
        "得力 DBH-276A 硒鼓 适用惠普M404dn M404n 76A 易加粉",
        "169.00",
        "个",
        {"适用机型": "M404dn M404n", "打印页数": 3100, "颜色": "黑色"},
    ),
    # Toner (墨粉)
    P(
        "hp-toner-bottle",
        TONER,
        "惠普",
        "W1110A",
        "惠普（HP）W1110A 110A 原装碳粉 墨粉 适用 Laser 108a 136a",
        "189.00",
        "瓶",
        {"适用机型": "Laser 108a 136a", "容量": 85},
    ),
    P(
        "pantum-tn-405",
        TONER,
        "奔图",
        "TN-405",
        "奔图 TN-405 墨粉 碳粉 适用P3301DN M7160DW 加粉",
        "99.00",
        "瓶",
        {"适用机型": "P3301DN M7160DW", "容量": 150},
    ),
    P(
        "lenovo-ld2441-toner",
        TONER,
        "联想",
        "LT2441",
        "联想 LT2441 原装墨粉 碳粉盒 适用LJ2400 M7400",
        "289.00",
        "支",
        {"适用机型": "LJ2400 M7400", "容量": 120},
    ),
    P(
        "kyocera-tk-4128",
        TONER,
        "京瓷",
        "TK-4128",
        "京瓷（KYOCERA）TK-4128 原装墨粉 碳粉 适用TASKalfa 2020 2021",
        "359.00",
        "支",
        {"适用机型": "TASKalfa 2020 2021", "容量": 430},
    ),
)


def product_image(product: DemoProduct, side: int = 800) -> bytes:
    """A product photo of the demo product's own: a few shapes, drawn from its
    key, on a white background (JPEG, ``side`` pixels square).

    Each product's picture is its own, so no two look alike to the
    perceptual hash (nor like the test suites' grid pictures), and it meets
    the mall's image rules (size, white border).
    """
    rng = random.Random(hashlib.sha256(product.key.encode()).digest())  # noqa: S311 - not security
    image = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 7)):
        x0, y0 = rng.randrange(side // 10, side // 2), rng.randrange(side // 10, side // 2)
        x1 = rng.randrange(x0 + side // 10, side * 9 // 10)
        y1 = rng.randrange(y0 + side // 10, side * 9 // 10)
        colour = (rng.randrange(200), rng.randrange(200), rng.randrange(200))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def certificate_no(product: DemoProduct) -> str:
    """The energy-saving certificate number the demo product carries (its own,
    or one drawn from its key for products entered without one)."""
    if product.energy_cert_no:
        return product.energy_cert_no
    return "CQC-DEMO-" + hashlib.sha256(product.key.encode()).hexdigest()[:8].upper()
