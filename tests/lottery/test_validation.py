"""Every kind of invalid instance is rejected with one line naming the field (API and CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import lottery


def good() -> dict[str, Any]:
    return {
        "format": "paiwei-instance/1",
        "seed": "ab" * 32,
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "schools": [{"id": "A", "capacity": 2}, {"id": "B", "capacity": 1}],
        "applicants": [
            {"id": "x", "choices": ["A", "B"], "priority": {"A": 1}, "group": None},
            {"id": "t1", "choices": ["B"], "group": "g"},
            {"id": "t2", "choices": ["B"], "group": "g"},
        ],
    }


def with_(path: list[Any], value: Any, delete: bool = False) -> bytes:
    obj = good()
    target: Any = obj
    for k in path[:-1]:
        target = target[k]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return orjson.dumps(obj)


CASES: list[tuple[str, bytes, str]] = [
    ("not json", b"{", "(document)"),
    ("not utf-8", b'{"format": "\xff"}', "(document)"),
    ("lone surrogate", b'{"format": "\\ud800"}', "(document)"),
    ("too deep", b'{"x": ' + b"[" * 1024 + b"]" * 1024 + b"}", "(document)"),
    ("NaN", b'{"format": NaN}', "(document)"),
    ("top-level array", b"[]", "(document)"),
    ("unknown top member", with_(["extra"], 1), "extra"),
    ("missing seed", with_(["seed"], None, delete=True), "seed"),
    ("missing applicants", with_(["applicants"], None, delete=True), "applicants"),
    ("wrong format", with_(["format"], "paiwei-instance/0"), "format"),
    ("seed uppercase", with_(["seed"], "AB" * 32), "seed"),
    ("seed not string", with_(["seed"], 5), "seed"),
    ("seed too long", with_(["seed"], "ab" * 33), "seed"),
    ("mechanism", with_(["mechanism"], "boston"), "mechanism"),
    ("tie_breaking", with_(["tie_breaking"], "lottery"), "tie_breaking"),
    ("group_policy", with_(["group_policy"], None), "group_policy"),
    ("schools not array", with_(["schools"], {}), "schools"),
    ("school not object", with_(["schools", 0], "A"), "schools[0]"),
    ("school unknown member", with_(["schools", 0, "name"], "A"), "schools[0].name"),
    ("school id missing", with_(["schools", 1, "id"], None, delete=True), "schools[1].id"),
    ("school id empty", with_(["schools", 1, "id"], ""), "schools[1].id"),
    ("school id number", with_(["schools", 1, "id"], 7), "schools[1].id"),
    ("school id control", with_(["schools", 1, "id"], "B\u0085"), "schools[1].id"),
    ("duplicate school", with_(["schools", 1, "id"], "A"), "schools[1].id"),
    (
        "capacity missing",
        with_(["schools", 0, "capacity"], None, delete=True),
        "schools[0].capacity",
    ),
    ("capacity negative", with_(["schools", 0, "capacity"], -1), "schools[0].capacity"),
    ("capacity float", with_(["schools", 0, "capacity"], 1.5), "schools[0].capacity"),
    ("capacity bool", with_(["schools", 0, "capacity"], True), "schools[0].capacity"),
    ("capacity huge", with_(["schools", 0, "capacity"], 2**53), "schools[0].capacity"),
    ("applicants not array", with_(["applicants"], "x"), "applicants"),
    ("applicant not object", with_(["applicants", 0], []), "applicants[0]"),
    ("applicant unknown", with_(["applicants", 0, "name"], "X"), "applicants[0].name"),
    ("applicant id missing", with_(["applicants", 0, "id"], None, delete=True), "applicants[0].id"),
    ("applicant id empty", with_(["applicants", 0, "id"], ""), "applicants[0].id"),
    ("applicant id control", with_(["applicants", 0, "id"], "x\n"), "applicants[0].id"),
    ("duplicate applicant", with_(["applicants", 2, "id"], "t1"), "applicants[2].id"),
    (
        "choices missing",
        with_(["applicants", 0, "choices"], None, delete=True),
        "applicants[0].choices",
    ),
    ("choices empty", with_(["applicants", 0, "choices"], []), "applicants[0].choices"),
    ("choices not array", with_(["applicants", 0, "choices"], "A"), "applicants[0].choices"),
    ("choice unknown", with_(["applicants", 0, "choices", 1], "C"), "applicants[0].choices[1]"),
    ("choice number", with_(["applicants", 0, "choices", 0], 1), "applicants[0].choices[0]"),
    ("choice array", with_(["applicants", 0, "choices", 0], ["A"]), "applicants[0].choices[0]"),
    ("choice repeated", with_(["applicants", 0, "choices", 1], "A"), "applicants[0].choices[1]"),
    ("priority not object", with_(["applicants", 0, "priority"], [1]), "applicants[0].priority"),
    (
        "priority unknown school",
        with_(["applicants", 0, "priority", "Z"], 1),
        "applicants[0].priority.Z",
    ),
    ("priority float", with_(["applicants", 0, "priority", "A"], 0.5), "applicants[0].priority.A"),
    ("priority bool", with_(["applicants", 0, "priority", "A"], False), "applicants[0].priority.A"),
    (
        "priority key not an identifier",
        with_(["applicants", 0, "priority", 'a.b["c'], 1),
        'applicants[0].priority["a.b[\\"c"]',
    ),
    ("unknown top member not an identifier", with_(["x-y"], 1), '["x-y"]'),
    (
        "priority huge",
        with_(["applicants", 0, "priority", "A"], -(2**53)),
        "applicants[0].priority.A",
    ),
    ("group empty", with_(["applicants", 1, "group"], ""), "applicants[1].group"),
    ("group number", with_(["applicants", 1, "group"], 3), "applicants[1].group"),
    ("group equals applicant", with_(["applicants", 0, "group"], "t2"), "applicants[0].group"),
    (
        "group choices differ",
        with_(["applicants", 2, "choices"], ["A", "B"]),
        "applicants[2].choices",
    ),
    ("duplicate member fast path", orjson.dumps(good())[:-1] + b',"format":"x"}', "format"),
    (
        "duplicate member inside applicant, escaped text",
        orjson.dumps(good()).replace(b'{"id":"x"', b'{"id":"\\u0078","id":"y"'),
        "applicants[0].id",
    ),
]


@pytest.mark.parametrize(("data", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_names_field(data: bytes, field: str) -> None:
    with pytest.raises(lottery.InvalidInstance) as exc:
        lottery.parse_instance(data)
    assert exc.value.field == field
    msg = str(exc.value)
    assert msg.startswith(field + ": ") and "\n" not in msg and len(msg) > len(field) + 4


def _fault(obj: dict[str, Any], path: list[Any], value: Any) -> None:
    target: Any = obj
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value


def test_first_error_in_spec_order() -> None:
    """Several faults: the one reported is the first in the order of spec section 9."""
    obj = good()
    obj["applicants"].append({"id": "y", "choices": ["C"]})  # unknown school, applicants[3]
    _fault(obj, ["applicants", 2, "choices"], ["A"])  # group choices differ, applicants[2]
    _fault(obj, ["applicants", 1, "id"], "t\x01")  # control character, applicants[1]
    want = ["applicants[1].id", "applicants[2].choices", "applicants[3].choices[0]"]
    for field in want:
        with pytest.raises(lottery.InvalidInstance) as exc:
            lottery.parse_instance(orjson.dumps(obj))
        assert exc.value.field == field
        if field == "applicants[1].id":
            obj["applicants"][1]["id"] = "t1"
        elif field == "applicants[2].choices":
            obj["applicants"][2]["choices"] = ["B"]
    # a school fault comes before any applicant fault; the group-id clash comes last
    obj["applicants"][3]["choices"] = ["A"]
    obj["applicants"][0]["group"] = "y"
    with pytest.raises(lottery.InvalidInstance) as exc:
        lottery.parse_instance(orjson.dumps(obj))
    assert exc.value.field == "applicants[0].group"
    obj["schools"][1]["capacity"] = -2
    with pytest.raises(lottery.InvalidInstance) as exc:
        lottery.parse_instance(orjson.dumps(obj))
    assert exc.value.field == "schools[1].capacity"


def test_duplicate_member_comes_first_in_pre_order() -> None:
    """A repeated name is reported before every other fault, at the first such object in
    document pre-order, named by its path."""
    text = orjson.dumps({**good(), "mechanism": "boston"})
    dup_inner = text.replace(b'{"id":"t2"', b'{"id":"t2","group":"g"')  # group twice
    with pytest.raises(lottery.InvalidInstance) as exc:
        lottery.parse_instance(dup_inner)
    assert exc.value.field == "applicants[2].group"
    dup_outer = dup_inner[:-1] + b',"seed":"' + b"00" * 32 + b'"}'
    with pytest.raises(lottery.InvalidInstance) as exc:
        lottery.parse_instance(dup_outer)
    assert exc.value.field == "seed"  # the top-level object precedes the objects inside it


def test_good_instance_and_escaped_text_are_valid() -> None:
    lottery.parse_instance(orjson.dumps(good()))
    # escapes and colons inside ids take the exact duplicate check and pass it
    escaped = orjson.dumps(good()).replace(b'"x"', b'"\\u0078"')
    assert lottery.parse_instance(escaped).applicants[0].id == "x"
    colon = orjson.dumps(good()).replace(b'"A"', b'"A:1"')
    assert lottery.parse_instance(colon).schools[0].id == "A:1"


def test_direct_construction_validates() -> None:
    with pytest.raises(lottery.InvalidInstance, match=r"applicants\[0\].choices\[0\]"):
        lottery.Instance(
            seed=bytes(32),
            mechanism="deferred-acceptance",
            tie_breaking="single",
            group_policy="all-or-none",
            schools=(lottery.School("A", 1),),
            applicants=(lottery.Applicant("x", ("nowhere",)),),
        )


@pytest.mark.parametrize(
    ("data", "field"),
    [c[1:] for c in CASES if c[0] in ("not json", "capacity negative", "group choices differ")],
)
def test_cli_exit_2_one_line(tmp_path: Path, data: bytes, field: str) -> None:
    src = tmp_path / "bad.json"
    src.write_bytes(data)
    for cmd in (["run", str(src)], ["simulate", str(src), "--draws", "3"]):
        p = subprocess.run(
            [sys.executable, "-m", "lottery", *cmd], capture_output=True, check=False
        )
        assert p.returncode == 2
        assert p.stdout == b""
        lines = p.stderr.decode().splitlines()
        assert len(lines) == 1 and field in lines[0], lines
