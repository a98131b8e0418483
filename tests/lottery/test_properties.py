"""Hypothesis properties of paiwei-lottery/1 (issue 2, "Tests")."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery
from tests.lottery.strategies import instances

SETTINGS = settings(max_examples=200, deadline=None)


def _run(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(lottery.run(orjson.dumps(obj)))
    return out


def _units(obj: dict[str, Any]) -> dict[str, list[str]]:
    units: dict[str, list[str]] = {}
    for a in obj["applicants"]:
        units.setdefault(a.get("group") or a["id"], []).append(a["id"])
    return units


@SETTINGS
@given(instances())
def test_capacity_respected_overfill_only_by_admit_together(obj: dict[str, Any]) -> None:
    res = _run(obj)
    size = {m: len(ms) for ms in _units(obj).values() for m in ms}
    for s in obj["schools"]:
        admitted = res["schools"][s["id"]]["admitted"]
        if len(admitted) <= s["capacity"]:
            continue
        assert obj["group_policy"] == "admit-together"
        assert len(admitted) - s["capacity"] < max(size[m] for m in admitted)


@SETTINGS
@given(instances())
def test_nobody_placed_twice_and_lists_agree(obj: dict[str, Any]) -> None:
    res = _run(obj)
    seen: dict[str, str] = {}
    for sid, out in res["schools"].items():
        for m in out["admitted"]:
            assert m not in seen
            seen[m] = sid
        assert not set(out["admitted"]) & set(out["waitlist"])
    assert set(res["assignments"]) == {a["id"] for a in obj["applicants"]}
    for aid, place in res["assignments"].items():
        assert (place and place["school"]) == seen.get(aid)


@SETTINGS
@given(instances())
def test_groups_never_split(obj: dict[str, Any]) -> None:
    res = _run(obj)
    for members in _units(obj).values():
        assert len({orjson.dumps(res["assignments"][m]) for m in members}) == 1


@SETTINGS
@given(instances(), st.randoms(use_true_random=False))
def test_independent_of_file_order(obj: dict[str, Any], rnd: Any) -> None:
    shuffled = copy.deepcopy(obj)
    rnd.shuffle(shuffled["applicants"])
    rnd.shuffle(shuffled["schools"])
    for a in shuffled["applicants"]:
        if a.get("priority"):
            items = list(a["priority"].items())
            rnd.shuffle(items)
            a["priority"] = dict(items)
    r1, r2 = _run(obj), _run(shuffled)
    r1.pop("instance_sha256")
    r2.pop("instance_sha256")
    assert r1 == r2


@SETTINGS
@given(instances(), st.data())
def test_ticket_independent_of_rest_of_roster(obj: dict[str, Any], data: st.DataObject) -> None:
    obj["tie_breaking"] = "single"
    units = _units(obj)
    keep = data.draw(st.sets(st.sampled_from(sorted(units))) if units else st.just(set()))
    smaller = dict(
        obj, applicants=[a for a in obj["applicants"] if (a.get("group") or a["id"]) in keep]
    )
    t_all, t_some = _run(obj)["tickets"], _run(smaller)["tickets"]
    seed = bytes.fromhex(obj["seed"])
    for u in keep:
        assert t_all[u] == t_some[u] == lottery.ticket(seed, u).hex()


@SETTINGS
@given(instances(groups=False))
def test_deferred_acceptance_is_stable_on_singletons(obj: dict[str, Any]) -> None:
    obj["mechanism"] = "deferred-acceptance"
    res = _run(obj)
    seed = bytes.fromhex(obj["seed"])
    multiple = obj["tie_breaking"] == "multiple"
    cap = {s["id"]: s["capacity"] for s in obj["schools"]}

    def rank(a: dict[str, Any], s: str) -> tuple[int, bytes]:
        t = lottery.ticket(seed, a["id"], s if multiple else None)
        return (-(a.get("priority") or {}).get(s, 0), t)

    by_id = {a["id"]: a for a in obj["applicants"]}
    for a in obj["applicants"]:
        place = res["assignments"][a["id"]]
        better = a["choices"] if place is None else a["choices"][: place["choice"] - 1]
        for s in better:
            admitted = res["schools"][s]["admitted"]
            # no blocking pair: s is full and prefers each of its admitted to a
            assert len(admitted) == cap[s]
            assert all(rank(by_id[b], s) < rank(a, s) for b in admitted)


@SETTINGS
@given(instances())
def test_result_bytes_are_canonical_and_parse_roundtrips(obj: dict[str, Any]) -> None:
    data = orjson.dumps(obj)
    out = lottery.run(data)
    assert out == rfc8785.dumps(orjson.loads(out)) + b"\n"
    inst = lottery.parse_instance(data)
    assert inst.canonical() == rfc8785.dumps(obj)
    assert lottery.result_bytes(lottery.draw(inst)) == out


# canonical_json against the reference package, including floats, big ints and astral keys.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(JSON)
def test_canonical_json_equals_rfc8785(value: Any) -> None:
    try:
        want = rfc8785.dumps(value)
    except Exception:
        try:
            lottery.canonical_json(value)
        except lottery.LotteryError:
            return
        raise AssertionError("canonical_json accepted a value rfc8785 rejects") from None
    assert lottery.canonical_json(value) == want


def test_canonical_json_orders_astral_keys_by_utf16() -> None:
    # U+FF61 < U+1F600 by code point, but in UTF-16 0xD83D (high surrogate) < 0xFF61.
    value = {"\uff61": 1, "\U0001f600": 2}
    assert lottery.canonical_json(value) == rfc8785.dumps(value)
    assert lottery.canonical_json(value).index("😀".encode()) < lottery.canonical_json(value).index(
        "\uff61".encode()
    )
