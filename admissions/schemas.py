"""Wire types shared by every domain: pagination and common constrained strings."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec

T = TypeVar("T")

# Patterns end in `(?!\n)$`: Python's `$` also matches before a final newline, and `\Z` is
# not JSON Schema (ECMA) syntax for the published /schema.
# Codes (school, pool, category, district ...): short, printable, no spaces.
Code = Annotated[
    str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-\u4e00-\u9fff]+(?!\n)$")
]
# Free text shown to people: no control characters.
Text = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+(?!\n)$")
]
LongText = Annotated[
    str, msgspec.Meta(min_length=1, max_length=2000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$")
]

MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
