"""JSON form of the seeds objects (dates as ISO 8601, tuples as arrays, field names unchanged)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from seeds.city import City
from seeds.families import Family


def to_jsonable(value: Any) -> Any:
    """Convert a seeds dataclass (or a list of them) to plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def city_json(city: City) -> dict[str, Any]:
    out: dict[str, Any] = to_jsonable(city)
    out["registration_days"] = city.registration_days
    return out


def families_json(items: list[Family]) -> list[Any]:
    out: list[Any] = to_jsonable(items)
    return out
