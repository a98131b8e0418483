from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from admissions.schemas import Code, Text

Seats = Annotated[int, msgspec.Meta(ge=0, le=100_000)]


class Reserved(msgspec.Struct, forbid_unknown_fields=True):
    """Seats set aside before the lottery for one category (staff children, policy ...)."""

    category: Code
    seats: Seats


class Pool(msgspec.Struct, forbid_unknown_fields=True):
    """A private school's lottery pool (day/boarding, in/out of district) with its own seats."""

    code: Code
    name: Text
    seats: Seats


class Band(msgspec.Struct, forbid_unknown_fields=True):
    """A public school's priority band; a higher ``rank`` is served first."""

    code: Code
    label: Text
    rank: Annotated[int, msgspec.Meta(ge=0, le=100)]


class SchoolIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: Code
    name: Text
    district: Code
    kind: Literal["public", "private"]
    plan: Annotated[int, msgspec.Meta(ge=0, le=100_000)]
    reserved: Annotated[list[Reserved], msgspec.Meta(max_length=20)] = []
    pools: Annotated[list[Pool], msgspec.Meta(max_length=20)] = []
    catchments: Annotated[list[Code], msgspec.Meta(max_length=200)] = []
    bands: Annotated[list[Band], msgspec.Meta(max_length=20)] = []


class SchoolOut(msgspec.Struct):
    code: str
    name: str
    district: str
    kind: str
    plan: int
    reserved: list[Reserved]
    pools: list[Pool]
    catchments: list[str]
    bands: list[Band]
