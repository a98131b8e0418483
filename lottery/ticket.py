"""Tickets: the lottery's only source of randomness (docs/lottery-spec.md, "Tickets").

A ticket is the first output block of RFC 5869 HKDF-Expand (section 2.3) with PRK = the 32-byte
seed, L = 32 and ``info`` = the unit id (``single``) or school id, 0x00, unit id (``multiple``):
T(1) = HMAC-SHA256(PRK, T(0) || info || 0x01) with T(0) empty.  This is the position function of
draft-thomson-elegy-vrs.  Ids never contain control characters, so the 0x00 separator is
unambiguous.
"""

from __future__ import annotations

import hmac


def ticket(seed: bytes, unit_id: str, school_id: str | None = None) -> bytes:
    """Return the 32-byte ticket of ``unit_id`` (at ``school_id`` for ``multiple`` tie-breaking)."""
    if school_id is None:
        msg = unit_id.encode() + b"\x01"
    else:
        msg = school_id.encode() + b"\x00" + unit_id.encode() + b"\x01"
    return hmac.digest(seed, msg, "sha256")
