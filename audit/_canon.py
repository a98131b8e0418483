"""The one place audit/ turns a JSON value into RFC 8785 (JCS) canonical bytes.

Every hash the audit log commits to is over these bytes. Delegates to
``lottery.canonical_json`` when the lottery engine is importable (so the whole project shares
one canonicaliser); otherwise uses the ``rfc8785`` package directly, which is the reference the
lottery's fast path is tested against.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

import rfc8785

__all__ = ["canonical_json"]


def _rfc8785_dumps(value: object) -> bytes:
    return rfc8785.dumps(value)  # type: ignore[arg-type]


def _pick() -> Callable[[object], bytes]:
    # Looked up dynamically so audit/ keeps working (and type-checks) on a tree where the
    # lottery engine has not landed yet.
    try:
        module = importlib.import_module("lottery")
    except ImportError:
        return _rfc8785_dumps
    found = getattr(module, "canonical_json", None)
    if callable(found):
        return cast("Callable[[object], bytes]", found)
    return _rfc8785_dumps


_impl = _pick()


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value (no trailing newline)."""
    return _impl(value)
