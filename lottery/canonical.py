"""RFC 8785 (JSON Canonicalization Scheme) serialisation.

The reference serialiser is the ``rfc8785`` package.  orjson with ``OPT_SORT_KEYS`` produces the
same bytes for the values we allow on the fast path:

* no floats (RFC 8785 section 3.2.2.3 number formatting is where serialisers differ) and integers
  within the I-JSON safe range, which both print as plain decimal digits;
* no object key containing a character outside the Basic Multilingual Plane: RFC 8785 section
  3.2.3 sorts keys by UTF-16 code units, which equals code-point order (orjson's order) only when
  no key holds a surrogate pair;
* strings escape identically: both emit ``\\b \\t \\n \\f \\r \\" \\\\``, ``\\u00xx``
  (lowercase) for the other C0 controls, and everything else as raw UTF-8 (checked by the
  property test against ``rfc8785``).

Anything else goes to ``rfc8785.dumps``.
"""

from __future__ import annotations

import orjson
import rfc8785

from lottery.errors import LotteryError

# RFC 8785 section 3.2.2.3 / I-JSON (RFC 7493 section 2.2): integers must be exact IEEE doubles.
MAX_SAFE_INT = 2**53 - 1


def _fast_path_ok(value: object) -> bool:
    """True when ``value`` is within the subset on which orjson equals RFC 8785."""
    stack: list[object] = [value]
    while stack:
        v = stack.pop()
        if v is None or v is True or v is False or type(v) is str:
            continue
        if type(v) is int:
            if not -MAX_SAFE_INT <= v <= MAX_SAFE_INT:
                return False
        elif type(v) is list or type(v) is tuple:
            stack.extend(v)
        elif type(v) is dict:
            for k in v:
                if type(k) is not str or (not k.isascii() and max(k) > "\uffff"):
                    return False
            stack.extend(v.values())
        else:
            return False
    return True


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical form of ``value`` (no trailing newline).

    Raises ``LotteryError`` when ``value`` has no canonical form (non-finite or out-of-range
    numbers, non-string keys, unsupported types).
    """
    if _fast_path_ok(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate in a string: let the reference decide
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except Exception as exc:  # rfc8785 raises several unrelated types
        raise LotteryError(f"value has no RFC 8785 canonical form: {exc}") from exc


def canonical_json_trusted(value: object, *, bmp_keys: bool) -> bytes:
    """RFC 8785 of a value already proven to be ints/strings/bools/None/lists/dicts only.

    Used by the engine for validated instances and results, whose shapes it controls; only the
    key-order condition (``bmp_keys``) still has to be supplied by the caller.
    """
    if bmp_keys:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return rfc8785.dumps(value)  # type: ignore[arg-type]
