"""Synthetic registry files: valid, plausible, unique, and written as a stream.

Row ``i`` is derived from ``i`` through bijections seeded once, so every ID number
and card number in a file is distinct without remembering the ones already written
(memory stays flat for any ``n``). No photos: the file exercises the database path.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from math import gcd
from pathlib import Path

from ecard.registry.csvformat import REQUIRED_COLUMNS
from ecard.registry.idnumber import check_char

# County-level codes (GB/T 2260) across provinces.
REGIONS = (
    "110101", "110105", "110108", "120101", "130102", "140105", "150102", "210102",
    "220102", "230102", "310101", "310104", "310115", "320102", "320505", "330106",
    "330212", "340102", "350203", "360102", "370102", "370202", "410105", "420106",
    "430104", "440106", "440305", "450103", "460105", "500103", "510107", "520102",
    "530102", "540102", "610113", "620102", "630102", "640104", "650102",
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "慕容")
MALE_CHARS = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林洋志国建文庆"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英燕萍红琳雪倩婷颖慧莉梅月晶佳欣怡洁蕾兰凤"
BANKS = (("ICBC", "622202"), ("ABC", "622848"), ("BOC", "621661"), ("CCB", "621700"),
         ("BOCOM", "622260"), ("PSBC", "621799"), ("CMB", "622588"))
FIRST_BIRTH = date(1930, 1, 1)
BIRTH_DAYS = (date(2008, 12, 31) - FIRST_BIRTH).days + 1
_CARD_SPACE = 10**8
_MAIN_PREFIXES = "ABCDEFGHJKLM"  # card numbers; replacements use the other letters
_NEW_PREFIXES = "NPQRSTUVWXYZ"


def _coprime(rng: random.Random, modulus: int) -> int:
    while True:
        a = rng.randrange(modulus // 3, modulus - 1)
        if gcd(a, modulus) == 1:
            return a


class SyntheticRegistry:
    """``rows(n)`` yields CSV rows (header first) of ``n`` distinct card holders."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        rng = random.Random(seed)  # noqa: S311  (synthetic data, not secrets)
        self._id_space = len(REGIONS) * BIRTH_DAYS * 1000
        self._id_mul, self._id_add = _coprime(rng, self._id_space), rng.randrange(
            self._id_space)
        self._card_mul, self._card_add = _coprime(rng, _CARD_SPACE), rng.randrange(_CARD_SPACE)

    @property
    def capacity(self) -> int:
        return min(self._id_space, _CARD_SPACE * len(_MAIN_PREFIXES))

    def id_number(self, i: int) -> str:
        k = (i * self._id_mul + self._id_add) % self._id_space
        k, seq = divmod(k, 1000)
        region_ix, day = divmod(k, BIRTH_DAYS)
        birth = FIRST_BIRTH + timedelta(days=day)
        first17 = f"{REGIONS[region_ix]}{birth:%Y%m%d}{seq:03d}"
        return first17 + check_char(first17)

    def card_number(self, i: int, prefixes: str = _MAIN_PREFIXES) -> str:
        block, rest = divmod(i, _CARD_SPACE)
        return f"{prefixes[block]}{(rest * self._card_mul + self._card_add) % _CARD_SPACE:08d}"

    def rows(self, n: int) -> Iterator[list[str]]:
        if n > self.capacity:
            raise ValueError(f"at most {self.capacity} distinct persons can be generated")
        rng = random.Random(self.seed + 1)  # noqa: S311
        yield list(REQUIRED_COLUMNS)
        for i in range(n):
            id_number = self.id_number(i)
            male = int(id_number[16]) % 2 == 1
            surnames = COMPOUND_SURNAMES if rng.random() < 0.02 else SURNAMES
            surname = rng.choice(surnames)
            chars = MALE_CHARS if male else FEMALE_CHARS
            given = "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2))))
            bank, bin_ = rng.choice(BANKS)
            account = bin_ + "".join(rng.choices("0123456789", k=13))
            phone = rng.choice(("13", "15", "17", "18", "19")) + "".join(
                rng.choices("0123456789", k=9))
            roll = rng.random()
            status, replaced_by = "active", ""
            if roll < 0.015:
                status = "lost"
            elif roll < 0.025:
                status = "cancelled"
            elif roll < 0.03:
                status, replaced_by = "replaced", self.card_number(i, _NEW_PREFIXES)
            generation = rng.choices(("1", "2", "3"), weights=(5, 35, 60))[0]
            yield [id_number, surname + given, id_number[:6], self.card_number(i), generation,
                   bank, account, phone, status, replaced_by]


def write_registry(path: Path, n: int, seed: int = 0) -> int:
    """Write ``n`` synthetic persons to ``path`` (UTF-8, header row); return ``n``."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(SyntheticRegistry(seed).rows(n))
    return n
