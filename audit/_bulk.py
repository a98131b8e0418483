"""Helpers for the bulk (C-speed) paths that check large inputs.

Each bulk path is an optimisation of an exact, per-item definition, and is taken only where it
provably gives the same answer (see audit/log.py and audit/draw.py); these helpers are the
shared conditions of those proofs.

Pausing the cyclic garbage collector: decoding a large JSON file or a million log entries
allocates millions of small acyclic containers; CPython's generational collector, triggered by
allocation counts, would traverse all survivors again and again. Reference counting frees
everything these passes allocate (they create no cycles), so the collector is paused for the
duration and its previous state restored.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator

import msgspec

#: The lead byte of any 4-byte UTF-8 sequence: a character outside the BMP, where RFC 8785's
#: UTF-16 key order can differ from code-point order (the order orjson and msgspec sort by).
ASTRAL = re.compile(rb"[\xf0-\xf4]")


def bmp_only(raw: bytes) -> bool:
    """True if the UTF-8 text ``raw`` has no character outside the Basic Multilingual Plane."""
    return raw.isascii() or ASTRAL.search(raw) is None


def no_float_hook(_text: str) -> object:
    """msgspec ``float_hook`` that refuses every float."""
    raise ValueError("a number with a fraction or exponent")  # -> the exact path decides


#: Decodes JSON like json.loads, but refuses any float (RFC 8785 number formatting is where
#: serialisers differ): a value it returns is ints, strings, bools, None, lists and dicts only.
NO_FLOATS = msgspec.json.Decoder(float_hook=no_float_hook)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
