"""Tickets: the lottery's only source of randomness (docs/lottery-spec.md, "Tickets").

A ticket is the first output block of RFC 5869 HKDF-Expand (section 2.3) with PRK = the 32-byte
seed, L = 32 and ``info`` = the unit id (``single``) or school id, 0x00, unit id (``multiple``):
T(1) = HMAC-SHA256(PRK, T(0) || info || 0x01) with T(0) empty.  This is the position function of
draft-thomson-elegy-vrs.  Ids never contain control characters, so the 0x00 separator is
unambiguous.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import itertools
from collections.abc import Iterable


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


_BLOCK = 256  # messages per batch: few live hash objects, which stay in cache
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256_many(key: bytes, messages: Iterable[bytes]) -> bytes:
    """``b"".join(hmac.digest(key, m, "sha256") for m in messages)``, the same bytes, faster:
    32 bytes per message, in order (one buffer, not one object per digest).

    RFC 2104: HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)) with K' the key zero-padded to
    the 64-byte block.  Both padded keys fill exactly one block, so the hash states after them
    are computed once and copied per message, instead of being recomputed in every call (two
    of the four SHA-256 compressions of a short message).
    """
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\x00")
    inner0 = hashlib.sha256(block.translate(_IPAD))
    outer0 = hashlib.sha256(block.translate(_OPAD))
    update = type(inner0).update
    digest = type(inner0).digest
    out: list[bytes] = []
    it = iter(messages)
    while batch := list(itertools.islice(it, _BLOCK)):
        n = len(batch)
        inner = list(itertools.starmap(inner0.copy, itertools.repeat((), n)))
        collections.deque(map(update, inner, batch), maxlen=0)
        outer = list(itertools.starmap(outer0.copy, itertools.repeat((), n)))
        collections.deque(map(update, outer, map(digest, inner)), maxlen=0)
        out.append(b"".join(map(digest, outer)))
    return b"".join(out)
