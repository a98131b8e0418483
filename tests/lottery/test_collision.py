"""The unit-id tie-break (spec section 4, step 3) is only reachable on a ticket collision; force
one by replacing the ticket stage and check the exact fallback ordering is used."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import lottery
from lottery import engine


def test_equal_tickets_fall_back_to_unit_id_order(monkeypatch: pytest.MonkeyPatch) -> None:
    def same_tickets(seed: bytes, tie: str, units: Any) -> Any:
        if tie == "single":
            return b"\x07" * 32 * len(units.ids), None
        return b"", b"\x07" * 32 * sum(map(len, units.choices))

    monkeypatch.setattr(engine, "_tickets", same_tickets)
    ids = ["d", "b", "é", "a", "c", "B"]
    for tie in ("single", "multiple"):
        obj = {
            "format": "paiwei-instance/1",
            "seed": "00" * 32,
            "mechanism": "deferred-acceptance",
            "tie_breaking": tie,
            "group_policy": "all-or-none",
            "schools": [{"id": "S", "capacity": 3}],
            "applicants": [
                {"id": a, "choices": ["S"], **({"priority": {"S": 1}} if a == "d" else {})}
                for a in ids
            ],
        }
        res = lottery.draw(lottery.parse_instance(orjson.dumps(obj)))
        # priority first, then code-point order of ids: "B" < "a" < "b" < "c" < "é"
        assert res.schools["S"].admitted == ("d", "B", "a")
        assert res.schools["S"].waitlist == ("b", "c", "é")
