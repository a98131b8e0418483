"""Synthetic Chinese names with a realistic surname distribution.

Surname weights: the national top 20 follow the shares published with the Ministry of Public
Security's household-registration surname rankings (王 ≈7.1%, 李 ≈7.0%, 张 ≈6.6%, 刘 ≈5.4%,
陈 ≈4.6%, ... per the 2020 《全国姓名报告》 ranking and earlier 2007/2013 releases; rounded here).
Below the top 20 the weights decay roughly like a Zipf law, and a few surnames that are much
more common in southern Jiangsu than nationally (钱, 顾, 华, 蒋, 沈, 陆, 薛, 过, 秦, 尤) are boosted
so the demo looks like Wuxi. Given names are built from characters common in names registered
since 2015 (the same reports list 梓, 子, 浩, 宇, 轩, 涵, 欣, 一, 若, 诗 among the most used).
Full names are two or three characters; compound surnames (欧阳, 诸葛, ...) take a
one-character given name.
"""

from __future__ import annotations

from typing import Literal

from seeds._rand import Rng, cumulate

Sex = Literal["M", "F"]

# (surname, weight in 1/10,000 of the population)
_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 710), ("李", 700), ("张", 660), ("刘", 540), ("陈", 460), ("杨", 310), ("黄", 240),
    ("赵", 230), ("吴", 200), ("周", 190), ("徐", 175), ("孙", 155), ("马", 150), ("朱", 145),
    ("胡", 135), ("郭", 130), ("何", 120), ("林", 115), ("高", 115), ("罗", 110), ("郑", 100),
    ("梁", 95), ("谢", 85), ("宋", 80), ("唐", 78), ("许", 75), ("韩", 72), ("冯", 70),
    ("邓", 68), ("曹", 66), ("彭", 62), ("曾", 60), ("肖", 58), ("田", 55), ("董", 53),
    ("袁", 51), ("潘", 50), ("于", 48), ("蒋", 70), ("蔡", 46), ("余", 44), ("杜", 43),
    ("叶", 42), ("程", 41), ("苏", 40), ("魏", 39), ("吕", 38), ("丁", 37), ("任", 36),
    ("沈", 60), ("姚", 34), ("卢", 33), ("姜", 32), ("崔", 31), ("钟", 30), ("谭", 29),
    ("陆", 55), ("汪", 28), ("范", 27), ("金", 26), ("石", 25), ("廖", 24), ("贾", 23),
    ("夏", 22), ("韦", 21), ("付", 20), ("方", 20), ("邹", 19), ("熊", 18), ("白", 18),
    ("孟", 17), ("秦", 25), ("邱", 16), ("侯", 16), ("江", 15), ("尹", 15), ("薛", 22),
    ("闫", 14), ("段", 14), ("雷", 13), ("钱", 40), ("顾", 45), ("华", 30), ("过", 12),
    ("尤", 10), ("浦", 8), ("缪", 8), ("殷", 8), ("邵", 15), ("严", 15), ("欧阳", 3), ("诸葛", 1),
    ("司马", 1), ("上官", 1),
)  # fmt: skip

_GIVEN_M = (
    "浩",
    "宇",
    "轩",
    "辰",
    "睿",
    "泽",
    "俊",
    "杰",
    "博",
    "文",
    "一",
    "沐",
    "宸",
    "铭",
    "晨",
    "逸",
    "航",
    "阳",
    "霖",
    "嘉",
    "思",
    "明",
    "子",
    "梓",
    "奕",
    "昊",
    "然",
    "瑞",
    "景",
    "安",
    "乐",
    "承",
    "煜",
    "钧",
    "哲",
    "言",
    "皓",
    "楷",
    "宁",
    "远",
)
_GIVEN_F = (
    "欣",
    "涵",
    "若",
    "诗",
    "雨",
    "一",
    "语",
    "可",
    "佳",
    "怡",
    "馨",
    "琪",
    "悦",
    "彤",
    "萱",
    "依",
    "安",
    "妍",
    "沐",
    "晴",
    "芊",
    "蕊",
    "子",
    "梓",
    "思",
    "嘉",
    "清",
    "禾",
    "之",
    "念",
    "瑶",
    "婉",
    "恩",
    "璐",
    "菲",
    "诺",
    "夕",
    "宁",
    "希",
    "然",
)
_SURNAME_LIST = tuple(s for s, _ in _SURNAMES)
_SURNAME_CUM = cumulate([w for _, w in _SURNAMES])
# Share of three-character names (surname + two-character given name) among recent births.
_THREE_CHAR_SHARE = 0.85


def surname(rng: Rng) -> str:
    return rng.weighted(_SURNAME_LIST, _SURNAME_CUM)


def given_name(rng: Rng, sex: Sex, length: int) -> str:
    pool = _GIVEN_M if sex == "M" else _GIVEN_F
    first = rng.pick(pool)
    if length == 1:
        return first
    second = rng.pick(pool)
    while second == first:
        second = rng.pick(pool)
    return first + second


def full_name(rng: Rng, family_name: str, sex: Sex) -> str:
    """A two- or three-character name (compound surnames always get a one-character given name)."""
    if len(family_name) > 1:
        return family_name + given_name(rng, sex, 1)
    length = 2 if rng.chance(_THREE_CHAR_SHARE) else 1
    return family_name + given_name(rng, sex, length)


def sibling_name(rng: Rng, family_name: str, sex: Sex, first_sibling: str) -> str:
    """A name for a later multiple: usually shares the first given-name character (浩然/浩宇)."""
    given = first_sibling[len(family_name) :]
    if len(given) == 2 and rng.chance(0.6):
        pool = _GIVEN_M if sex == "M" else _GIVEN_F
        second = rng.pick(pool)
        while second in given:
            second = rng.pick(pool)
        return family_name + given[0] + second
    name = full_name(rng, family_name, sex)
    while name == first_sibling:
        name = full_name(rng, family_name, sex)
    return name
