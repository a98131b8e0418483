"""Strict standard base64: the only accepted spelling of some bytes is the canonical one.

Python (like Go's ``StdEncoding``) accepts non-zero unused bits in the last character, so two
different strings can decode to the same bytes. Every format here is checked byte for byte, so
such a variant is rejected rather than silently accepted.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64decode_strict", "b64encode"]


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Decode standard padded base64; raise ``ValueError`` unless ``text`` is canonical."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc
    if b64encode(raw) != text:
        raise ValueError("non-canonical base64")
    return raw
