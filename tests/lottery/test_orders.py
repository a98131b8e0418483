"""The school orders' radix sort: keys wider than 16 bits take several passes, which must agree
with the single pass (and so with the reference, see test_core)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings

import lottery
from tests.lottery.strategies import instances
from tests.lottery.test_core import inst

PAD = 1 << 16  # unchosen schools: (schools x priority levels) no longer fits 16 bits


def _run(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(lottery.run(orjson.dumps(obj)))
    return out


@settings(max_examples=25, deadline=None)
@given(instances())
def test_wide_sort_keys_give_the_same_orders(obj: dict[str, Any]) -> None:
    padded = dict(
        obj, schools=obj["schools"] + [{"id": f"~{i}", "capacity": 0} for i in range(PAD)]
    )
    wide = _run(padded)
    for i in range(PAD):
        assert wide["schools"].pop(f"~{i}") == {"admitted": [], "waitlist": []}
    narrow = _run(obj)
    del wide["instance_sha256"], narrow["instance_sha256"]  # the digest covers the schools
    assert wide == narrow


def test_wide_sort_keys_keep_priority_and_ticket_order() -> None:
    apps = [
        {"id": f"x{i}", "choices": ["A", "B"], **({"priority": {"A": i % 3}} if i % 2 else {})}
        for i in range(30)
    ]
    obj = inst(schools=[{"id": "A", "capacity": 5}, {"id": "B", "capacity": 5}], applicants=apps)
    test_wide_sort_keys_give_the_same_orders.hypothesis.inner_test(obj)  # type: ignore[attr-defined]


def test_one_school_with_65536_priority_levels() -> None:
    """Review F1: one school and 2^16 priority levels fit a 16-bit key, but not its factor."""
    n = 1 << 16
    obj = inst(
        schools=[{"id": "S", "capacity": 3}],
        applicants=[{"id": f"a{i:05d}", "choices": ["S"], "priority": {"S": i}} for i in range(n)],
    )
    out = _run(obj)
    assert out["schools"]["S"]["admitted"] == [f"a{i:05d}" for i in (n - 1, n - 2, n - 3)]
    assert out["schools"]["S"]["waitlist"][:2] == [f"a{i:05d}" for i in (n - 4, n - 5)]
