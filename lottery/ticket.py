"""Tickets: the lottery's only source of randomness (docs/lottery-spec.md, "Tickets").

A ticket is the first output block of RFC 5869 HKDF-Expand (section 2.3) with PRK = the 32-byte
seed, L = 32 and ``info`` = the unit id (``single``) or school id, 0x00, unit id (``multiple``):
T(1) = HMAC-SHA256(PRK, T(0) || info || 0x01) with T(0) empty.  This is the position function of
draft-thomson-elegy-vrs.  Ids never contain control characters, so the 0x00 separator is
unambiguous.
"""

from __future__ import annotations

import hmac


def hkdf_expand_block(prk: bytes, info: bytes) -> bytes:
    """RFC 5869 section 2.3 HKDF-Expand(PRK, info, L=32) with SHA-256: T(1) only."""
    return hmac.digest(prk, info + b"\x01", "sha256")


def ticket_info(unit_id: str, school_id: str | None = None) -> bytes:
    """The HKDF ``info`` of a ticket: utf8(unit) or utf8(school) || 0x00 || utf8(unit)."""
    if school_id is None:
        return unit_id.encode()
    return school_id.encode() + b"\x00" + unit_id.encode()


def ticket(seed: bytes, unit_id: str, school_id: str | None = None) -> bytes:
    """Return the 32-byte ticket of ``unit_id`` (at ``school_id`` for ``multiple`` tie-breaking):
    ``HKDF-Expand(PRK=seed, info=ticket_info(unit_id, school_id), L=32)``."""
    return hkdf_expand_block(seed, ticket_info(unit_id, school_id))
