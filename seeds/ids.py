"""Resident identity card numbers (公民身份号码), GB 11643-1999.

Layout: 6-digit administrative division code (GB/T 2260) of the registration place, 8-digit birth
date YYYYMMDD, 3-digit sequence code (odd for males, even for females), 1 check character.
Check character: ISO 7064 MOD 11-2 over the first 17 digits with weights 2**(17-i) mod 11,
``(12 - sum mod 11) mod 11``, written ``X`` for 10. python-stdnum's ``stdnum.cn.ric`` implements the
same rule; the tests validate every generated number with it.
"""

from __future__ import annotations

import datetime

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))


def check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def id_number(region: str, birth: datetime.date, sequence: int) -> str:
    """Build an 18-character ID number; ``sequence`` is 1..999, its parity encodes the sex."""
    if len(region) != 6 or not region.isdigit():
        raise ValueError(f"region: expected a 6-digit division code, got {region!r}")
    if not 1 <= sequence <= 999:
        raise ValueError(f"sequence: expected 1..999, got {sequence}")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def sequence_for(sex: str, start: int) -> int:
    """The smallest sequence code >= start whose parity matches the sex (odd male, even female)."""
    want = 1 if sex == "M" else 0
    return start if start % 2 == want else start + 1
