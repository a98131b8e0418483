"""Core behaviour: worked cases, the naive reference oracle, CLI exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import rfc8785
from hypothesis import given, settings

import lottery
from tests.lottery.reference import reference_run
from tests.lottery.strategies import instances

SEED = bytes(range(32)).hex()


def inst(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": "paiwei-instance/1",
        "seed": SEED,
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "schools": [{"id": "A", "capacity": 1}],
        "applicants": [{"id": "x", "choices": ["A"]}],
    }
    base.update(kw)
    return base


def result(obj: dict[str, Any]) -> dict[str, Any]:
    out = lottery.run(orjson.dumps(obj))
    assert out.endswith(b"\n")
    parsed: dict[str, Any] = json.loads(out)
    assert rfc8785.dumps(parsed) + b"\n" == out
    return parsed


@settings(max_examples=300, deadline=None)
@given(instances())
def test_engine_equals_naive_reference(obj: dict[str, Any]) -> None:
    assert result(obj) == reference_run(obj)


def test_priority_beats_ticket_and_ticket_orders_the_rest() -> None:
    apps = [{"id": f"a{i}", "choices": ["A"]} for i in range(5)]
    apps[4]["priority"] = {"A": 1}
    r = result(inst(schools=[{"id": "A", "capacity": 2}], applicants=apps))
    tickets = r["tickets"]
    rest = sorted((a["id"] for a in apps[:4]), key=lambda a: tickets[a])
    assert r["schools"]["A"]["admitted"] == ["a4", rest[0]]
    assert r["schools"]["A"]["waitlist"] == rest[1:]
    assert tickets["a0"] == lottery.ticket(bytes.fromhex(SEED), "a0").hex()


def test_admit_together_overfills_all_or_none_skips() -> None:
    apps = [
        {"id": "t1", "choices": ["A"], "group": "g", "priority": {"A": 1}},
        {"id": "t2", "choices": ["A"], "group": "g"},
        {"id": "t3", "choices": ["A"], "group": "g"},
        {"id": "s", "choices": ["A"]},
    ]
    schools = [{"id": "A", "capacity": 2}]
    together = result(inst(group_policy="admit-together", schools=schools, applicants=apps))
    assert together["schools"]["A"]["admitted"] == ["t1", "t2", "t3"]
    aon = result(inst(group_policy="all-or-none", schools=schools, applicants=apps))
    assert aon["schools"]["A"]["admitted"] == ["s"]
    assert aon["assignments"]["t2"] is None
    assert aon["tickets"].keys() == {"g", "s"}


def test_boston_differs_from_da() -> None:
    # x ranks B first and loses it to y; x has priority at A, so DA gives x a seat there, but
    # under Boston A is already filled with first choices in round 1.
    apps = [
        {"id": "x", "choices": ["B", "A"], "priority": {"A": 1}},
        {"id": "y", "choices": ["B"], "priority": {"B": 5}},
        {"id": "z", "choices": ["A"]},
        {"id": "w", "choices": ["A", "B"], "priority": {"A": 0}},
    ]
    schools = [{"id": "A", "capacity": 2}, {"id": "B", "capacity": 1}]
    da = result(inst(schools=schools, applicants=apps, mechanism="deferred-acceptance"))
    assert da["assignments"]["x"] == {"school": "A", "choice": 2}
    bos = result(inst(schools=schools, applicants=apps, mechanism="preference-rounds"))
    assert bos["assignments"]["x"] is None
    assert bos["assignments"]["z"] == {"school": "A", "choice": 1}


def test_multiple_has_no_tickets_member() -> None:
    assert "tickets" not in result(inst(tie_breaking="multiple"))


def test_digest_without_seed_ignores_seed() -> None:
    a = lottery.parse_instance(orjson.dumps(inst()))
    b = lottery.parse_instance(orjson.dumps(inst(seed="ff" * 32)))
    assert a.digest_without_seed() == b.digest_without_seed()
    assert a.sha256() != b.sha256()
    no_seed = {k: v for k, v in inst().items() if k != "seed"}
    assert a.digest_without_seed() == __import__("hashlib").sha256(rfc8785.dumps(no_seed)).digest()


def test_direct_construction_validates_and_matches_parse() -> None:
    built = lottery.Instance(
        seed=bytes(range(32)),
        mechanism="deferred-acceptance",
        tie_breaking="single",
        group_policy="all-or-none",
        schools=(lottery.School("A", 1),),
        applicants=(lottery.Applicant("x", ("A",)),),
    )
    assert lottery.result_bytes(lottery.draw(built)) == lottery.run(orjson.dumps(inst()))


def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lottery", *args], input=stdin, capture_output=True, check=False
    )


def test_cli_run_writes_result(tmp_path: Path) -> None:
    src = tmp_path / "i.json"
    src.write_bytes(orjson.dumps(inst()))
    out = tmp_path / "r.json"
    p = _cli("run", str(src), "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == lottery.run(src.read_bytes())
    p = _cli("run", str(src))
    assert p.stdout == out.read_bytes()


def test_cli_invalid_exits_2_with_one_line(tmp_path: Path) -> None:
    src = tmp_path / "i.json"
    src.write_bytes(orjson.dumps(inst(schools=[{"id": "A", "capacity": -1}])))
    p = _cli("run", str(src))
    assert p.returncode == 2
    err = p.stderr.decode()
    assert err.count("\n") == 1 and "schools[0].capacity" in err and "Traceback" not in err
    p = _cli("run", str(tmp_path / "missing.json"))
    assert p.returncode == 2 and p.stderr.count(b"\n") == 1


def test_cli_unwritable_output_exits_2_naming_it(tmp_path: Path) -> None:
    src = tmp_path / "i.json"
    src.write_bytes(orjson.dumps(inst()))
    target = tmp_path / "no-such-dir" / "r.json"
    p = _cli("run", str(src), "-o", str(target))
    assert p.returncode == 2
    err = p.stderr.decode()
    assert err.count("\n") == 1 and str(target) in err and "cannot write" in err


def test_direct_writer_and_serialiser_agree_on_awkward_ids() -> None:
    # ids that sort before the closing quote (" ", "!"), need escapes ('"', "\\") or sit beyond
    # the BMP: the first two take run()'s direct writer, the rest the Result serialiser path.
    for extra in ("a", "a!", 'a"', "a\\", "a\U0001f600"):
        obj = inst(
            schools=[{"id": "S", "capacity": 2}, {"id": "S ", "capacity": 1}],
            applicants=[
                {"id": "a", "choices": ["S ", "S"]},
                {"id": "a b", "choices": ["S"], "group": "g"},
                {"id": "a c", "choices": ["S"], "group": "g"},
                {"id": extra + "z", "choices": ["S", "S "], "priority": {"S": 1}},
            ],
        )
        data = orjson.dumps(obj)
        out = lottery.run(data)
        assert out == rfc8785.dumps(orjson.loads(out)) + b"\n"
        assert out == lottery.result_bytes(lottery.draw(lottery.parse_instance(data)))


def test_cli_turns_off_numpy_huge_pages(tmp_path: Path) -> None:
    import numpy as np

    from lottery.cli import main

    setter = np._core.multiarray._set_madvise_hugepage
    before = setter(True)
    try:
        src = tmp_path / "i.json"
        src.write_bytes(orjson.dumps(inst()))
        assert main(["run", str(src), "-o", str(tmp_path / "r.json")]) == 0
        assert setter(True) is False  # the command line had switched it off
    finally:
        setter(before)


def test_many_priorities_per_applicant_match_the_reference() -> None:
    """Review F5 (session 3): listed priorities were matched to choices as entries x choices
    per applicant (8,000 x 8,000 took 2.1 GB); now a join.  Priorities at schools not chosen
    are ignored, at chosen ones used, also through groups."""
    schools = [{"id": f"s{i:03d}", "capacity": 1 + i % 3} for i in range(300)]
    apps: list[dict[str, Any]] = []
    for i in range(40):
        ch = [s["id"] for s in schools[i % 7 :: 1 + i % 5]][:150]
        prio = {s["id"]: (i * 7 + j) % 5 - 1 for j, s in enumerate(schools) if (i + j) % 3}
        group = f"g{i // 2}" if i < 8 else None
        if group is not None:
            ch = [s["id"] for s in schools[: 100 + i // 2]]
        apps.append({"id": f"a{i:02d}", "choices": ch, "priority": prio, "group": group})
    for mech in ("deferred-acceptance", "preference-rounds"):
        obj = inst(mechanism=mech, schools=schools, applicants=apps)
        assert result(obj) == reference_run(obj)
