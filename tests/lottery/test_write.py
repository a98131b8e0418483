"""The result writer (lottery._write) against the generic path: Result and the serialiser."""

from __future__ import annotations

from typing import Any
from unittest import mock

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery
from lottery import _write, engine
from tests.lottery.strategies import instances

# Characters of 1, 2 and 3 UTF-8 bytes, some sorting before the closing quote (" ", "!"): ids
# the writer takes (no escapes, nothing beyond the BMP).
PLAIN = st.sampled_from([*"aZ09 !#~", "\xe9", "\u07ff", "\u0800", "\u4e2d", "\uffee"])


def _writer_bytes(data: bytes) -> bytes | None:
    cols, sha = engine._load(data)
    units = engine._Units(cols)
    orders, placed_k, held = engine._assign(cols, units, cols.seed)
    chunks = _write.result_chunks(cols, units, orders, placed_k, held, sha)
    return None if chunks is None else b"".join(chunks)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from([1, 2, 5, 1 << 16]), st.sampled_from([None, 1, 3]))
def test_writer_equals_serialiser(data: st.DataObject, rows: int, width: int | None) -> None:
    # width None: ids of 1 to 6 characters (a padded matrix); else all of one length (rows
    # of the NUL-separated encoding used in place), except the group ids.
    ids = st.text(PLAIN, min_size=width or 1, max_size=width or 6)
    obj = data.draw(instances(max_schools=6, max_applicants=25, ids=ids))
    for i, app in enumerate(obj["applicants"]):  # some groups of one (their id is the unit's)
        if app.get("group") is None and data.draw(st.booleans()):
            app["group"] = "h" + data.draw(ids) + str(i)
    raw = orjson.dumps(obj)
    with mock.patch.object(_write, "_ROWS", rows):  # blocks of a few rows
        out = _writer_bytes(raw)
    assert out is not None
    assert out == lottery.result_bytes(lottery.draw(lottery.parse_instance(raw)))


def _instance(app_ids: list[str]) -> bytes:
    obj: dict[str, Any] = {
        "format": "paiwei-instance/1",
        "seed": bytes(range(32)).hex(),
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "schools": [{"id": "S", "capacity": 2}, {"id": "T", "capacity": 0}],
        "applicants": [{"id": a, "choices": ["S", "T"]} for a in app_ids],
    }
    return orjson.dumps(obj)


def test_far_too_uneven_ids_take_the_generic_path() -> None:
    # one long id among short ones: the padded matrix would be mostly padding
    raw = _instance([f"a{i}" for i in range(50)] + ["b" * 5000])
    assert _writer_bytes(raw) is None
    assert lottery.run(raw) == lottery.result_bytes(lottery.draw(lottery.parse_instance(raw)))
    obj = orjson.loads(_instance(["a", "b"]))  # the same for school ids
    obj["schools"] += [{"id": f"s{i}", "capacity": 1} for i in range(50)]
    obj["schools"].append({"id": "S" * 5000, "capacity": 1})
    raw = orjson.dumps(obj)
    assert _writer_bytes(raw) is None
    assert lottery.run(raw) == lottery.result_bytes(lottery.draw(lottery.parse_instance(raw)))


def test_one_long_group_id_takes_the_generic_path() -> None:
    """Review F2: a long group id widened the matrix of every unit's id (5k units x 100k)."""
    obj = orjson.loads(_instance([f"a{i:04d}" for i in range(5000)]))
    obj["applicants"][0]["group"] = obj["applicants"][1]["group"] = "g" * 100_000
    raw = orjson.dumps(obj)
    assert _writer_bytes(raw) is None
    assert lottery.run(raw) == lottery.result_bytes(lottery.draw(lottery.parse_instance(raw)))


def test_ids_needing_escapes_or_beyond_the_bmp_take_the_generic_path() -> None:
    for odd in ('a"', "a\\", "a\U0001f600"):
        raw = _instance(["a", odd])
        assert _writer_bytes(raw) is None
        assert lottery.run(raw) == lottery.result_bytes(lottery.draw(lottery.parse_instance(raw)))
    assert _writer_bytes(_instance(["a", "a\uffff", "a\u00e9"])) is not None


def test_no_schools_no_applicants() -> None:
    obj = orjson.loads(_instance([]))
    obj["schools"] = []
    raw = orjson.dumps(obj)
    out = _writer_bytes(raw)
    assert out is not None
    assert out == lottery.result_bytes(lottery.draw(lottery.parse_instance(raw)))
