"""The fast path of ``lottery.run`` (lottery._fast) against the exact validator: it may only
accept what ``parse_instance`` accepts, with the same columns and ``instance_sha256``; whenever it
declines, ``run`` reports the exact validator's error, byte for byte."""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery
from lottery import _fast
from lottery.columns import Columns, columns_of
from lottery.errors import InvalidInstance
from lottery.ticket import _BLOCK as HMAC_BATCH
from lottery.ticket import hmac_sha256_many
from tests.lottery.strategies import instances
from tests.lottery.test_core import inst

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _prio_entries(c: Columns) -> list[tuple[int, int, int]]:
    entries = zip(c.prio_app.tolist(), c.prio_school.tolist(), c.prio_value.tolist(), strict=True)
    return sorted(entries)


def _same_columns(a: Columns, b: Columns) -> None:
    assert _prio_entries(a) == _prio_entries(b)  # in any order
    for name in Columns.__slots__:
        if name.startswith("prio_"):
            continue
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y), name
        else:
            assert x == y, name


def _exact(data: bytes) -> tuple[Columns, str] | str:
    """What the exact validator makes of ``data``: columns and hash, or the error line."""
    try:
        inst = lottery.parse_instance(data)
    except InvalidInstance as exc:
        return str(exc)
    return columns_of(inst), inst.sha256().hex()


def check_agreement(data: bytes) -> bool:
    """Assert the fast path agrees with the exact one on ``data``; return whether it accepted."""
    exact = _exact(data)
    fast = _fast.decode(data)
    if fast is not None:
        assert not isinstance(exact, str), f"fast path accepted an invalid instance: {exact}"
        _same_columns(fast[0], exact[0])
        assert fast[1] == exact[1]
    if isinstance(exact, str):
        with pytest.raises(InvalidInstance) as info:
            lottery.run(data)
        assert str(info.value) == exact
    else:
        assert lottery.run(data) == lottery.result_bytes(lottery.draw(lottery.parse_instance(data)))
    return fast is not None


INVALID = sorted(p for p in (VECTORS / "invalid").glob("*.json") if p.name != "index.json")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_vectors_agree(path: Path) -> None:
    assert not check_agreement(path.read_bytes())


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.instance.json")), ids=lambda p: p.name)
def test_valid_vectors_agree(path: Path) -> None:
    data = path.read_bytes()
    accepted = check_agreement(data)
    # the fast path covers every escape-free instance whose school ids are in the BMP
    escaped = b"\\" in data
    astral = any(ord(ch) > 0xFFFF for s in json.loads(data)["schools"] for ch in s["id"])
    assert accepted == (not escaped and not astral)


# Mutations that keep the text close to valid: each breaks (or keeps) one rule.
_MUTATIONS = (
    "none",
    "dup-top",
    "dup-applicant-member",
    "dup-priority-key",
    "unknown-member",
    "drop-choices",
    "empty-choices",
    "repeat-choice",
    "unknown-choice",
    "float-priority",
    "big-priority",
    "bool-capacity",
    "negative-capacity",
    "dup-applicant-id",
    "dup-school-id",
    "group-is-applicant",
    "group-choices-differ",
    "empty-group",
    "control-id",
    "del-ascii-id",
    "sorted-ids",
    "sorted-dup-id",
    "colon-ids",
    "seed-upper",
    "null-priority",
    "priority-unknown-school",
    "whitespace",
    "format",
)


def _mutate(obj: dict[str, Any], how: str, pick: int) -> bytes:
    apps = obj["applicants"]
    a = apps[pick % len(apps)] if apps else None
    if how == "dup-top":
        text = orjson.dumps(obj).decode()
        return ('{"mechanism":"preference-rounds",' + text[1:]).encode()
    if how == "dup-applicant-member" and a is not None:
        text = orjson.dumps(obj).decode()
        needle = orjson.dumps(a).decode()
        return text.replace(needle, '{"id":"zz",' + needle[1:], 1).encode()
    if how == "dup-priority-key" and a is not None:
        s = obj["schools"][0]["id"]
        a["priority"] = {s: 1}
        text = orjson.dumps(obj).decode()
        key = orjson.dumps(s).decode()
        return text.replace(f'"priority":{{{key}:1}}', f'"priority":{{{key}:2,{key}:1}}').encode()
    if how == "unknown-member" and a is not None:
        a["rank"] = 1
    elif how == "drop-choices" and a is not None:
        del a["choices"]
    elif how == "empty-choices" and a is not None:
        a["choices"] = []
    elif how == "repeat-choice" and a is not None:
        a["choices"] = [*a["choices"], a["choices"][0]]
    elif how == "unknown-choice" and a is not None:
        a["choices"] = [*a["choices"], "no such school"]
    elif how == "float-priority" and a is not None:
        a["priority"] = {a["choices"][0]: 1.0}
    elif how == "big-priority" and a is not None:
        a["priority"] = {a["choices"][0]: 2**53}
    elif how == "bool-capacity":
        obj["schools"][0]["capacity"] = True
    elif how == "negative-capacity":
        obj["schools"][-1]["capacity"] = -1
    elif how == "dup-applicant-id" and len(apps) > 1:
        apps[-1]["id"] = apps[0]["id"]
    elif how == "dup-school-id" and len(obj["schools"]) > 1:
        obj["schools"][-1]["id"] = obj["schools"][0]["id"]
    elif how == "group-is-applicant" and a is not None:
        a["group"] = apps[0]["id"]
    elif how == "group-choices-differ" and len(apps) > 1:
        apps[0]["group"] = apps[-1]["group"] = "gx"
        apps[0]["choices"] = list(reversed(apps[0]["choices"])) + ["extra"] * 0
        apps[-1]["choices"] = [apps[-1]["choices"][0]]
    elif how == "empty-group" and a is not None:
        a["group"] = ""
    elif how == "control-id" and a is not None:
        a["id"] = a["id"] + "\x85"
    elif how == "del-ascii-id" and a is not None:  # ASCII text: the fast path looks for DEL only
        for i, ap in enumerate(apps):
            ap["id"] = f"a{i}"
        a["id"] = a["id"] + "\x7f"
    elif how in ("sorted-ids", "sorted-dup-id"):  # ids in order: the fast path skips its sort
        apps.sort(key=lambda ap: ap["id"])
        if how == "sorted-dup-id" and len(apps) > 1:
            apps[pick % (len(apps) - 1) + 1]["id"] = apps[pick % (len(apps) - 1)]["id"]
    elif how == "colon-ids":
        for s in obj["schools"]:
            s["id"] = s["id"] + ":x"
        for ap in apps:
            ap["id"] = ":" + ap["id"]
            ap["choices"] = [c + ":x" for c in ap["choices"]]
            if ap.get("priority"):
                ap["priority"] = {k + ":x": v for k, v in ap["priority"].items()}
            if ap.get("group"):
                ap["group"] = ap["group"] + "::"
    elif how == "seed-upper":
        obj["seed"] = obj["seed"].upper()
    elif how == "null-priority" and a is not None:
        a["priority"] = None
    elif how == "priority-unknown-school" and a is not None:
        a["priority"] = {"no such school": 1}
    elif how == "whitespace":
        return json.dumps(obj, indent=1, ensure_ascii=False).encode()
    elif how == "format":
        obj["format"] = "paiwei-instance/2"
    return orjson.dumps(obj)


@settings(max_examples=300, deadline=None)
@given(instances(), st.sampled_from(_MUTATIONS), st.integers(0, 50), st.booleans())
def test_fast_path_agrees_on_near_valid_instances(
    obj: dict[str, Any], how: str, pick: int, sort_keys: bool
) -> None:
    if sort_keys:
        obj = json.loads(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))
    check_agreement(_mutate(obj, how, pick))


@settings(max_examples=100, deadline=None)
@given(instances())
def test_fast_path_accepts_plain_valid_instances(obj: dict[str, Any]) -> None:
    data = orjson.dumps(obj)
    astral = any(ord(ch) > 0xFFFF for s in obj["schools"] for ch in s["id"])
    controls = any(
        "\x7f" <= ch <= "\x9f"
        for s in [*(s["id"] for s in obj["schools"]), *(a["id"] for a in obj["applicants"])]
        for ch in s
    )
    assert check_agreement(data) == (b"\\" not in data and not astral and not controls)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=130), st.lists(st.binary(max_size=150), max_size=20))
def test_bulk_hmac_equals_hmac_digest(key: bytes, messages: list[bytes]) -> None:
    want = b"".join(hmac.digest(key, m, "sha256") for m in messages)
    assert hmac_sha256_many(key, messages) == want


def test_bulk_hmac_across_batches() -> None:
    key = bytes(range(32))
    messages = [i.to_bytes(4, "big") for i in range(3 * HMAC_BATCH + 3)]
    got = hmac_sha256_many(key, iter(messages))
    assert got == b"".join(hmac.digest(key, m, "sha256") for m in messages)


@pytest.mark.parametrize(
    "bad", [b"\xff", b"\xed\xa0\x80", b"\xc0\xaf"], ids=["ff", "cesu", "overlong"]
)
def test_invalid_utf8_inside_applicants_is_an_invalid_instance(bad: bytes) -> None:
    """Review F2: bytes that are not UTF-8 inside the applicants member used to escape the fast
    path as UnicodeDecodeError instead of the exact validator's InvalidInstance."""
    path = sorted(VECTORS.glob("*.instance.json"))[0]
    data = json.dumps(json.loads(path.read_bytes()), separators=(",", ":")).encode()
    assert check_agreement(data)  # the fast path takes the unmodified instance
    i = data.index(b'"applicants":[') + len(b'"applicants":[')
    j = data.index(b'"id":"', i) + len(b'"id":"')
    assert not check_agreement(data[:j] + bad + data[j:])


@pytest.mark.parametrize("bad", [b"\xff", b"\xed\xa0\x80"], ids=["ff", "cesu"])
def test_invalid_utf8_outside_applicants_is_an_invalid_instance(bad: bytes) -> None:
    """Review F3 (session 3): the same in a member name or a school id, where the head decode
    raised UnicodeDecodeError (an internal error on the command line)."""
    base = orjson.dumps({**inst(), "schools": [{"id": "S", "capacity": 1}], "applicants": []})
    for data in (base.replace(b'{"format"', b'{"' + bad + b'":1,"format"'),
                 base.replace(b'"id":"S"', b'"id":"S' + bad + b'"')):  # fmt: skip
        assert not check_agreement(data)


def test_deep_nesting_inside_applicants_is_an_invalid_instance() -> None:
    """Review F4 (session 3): 1,000 nested arrays (within the spec's depth limit) made msgspec
    raise RecursionError; the exact validator names the first applicant."""
    base = orjson.dumps({**inst(), "applicants": []})
    data = base.replace(b'"applicants":[]', b'"applicants":' + b"[" * 1000 + b"]" * 1000)
    assert not check_agreement(data)
    with pytest.raises(InvalidInstance, match=r"^applicants\[0\]: must be an object"):
        lottery.run(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=3), min_size=1, max_size=300, unique=True), st.data())
def test_positions_match_objects_by_identity(keys: list[str], data: st.DataObject) -> None:
    picks = data.draw(st.lists(st.integers(0, len(keys) - 1), max_size=200))
    got = _fast._positions(iter([keys[i] for i in picks]), len(picks), keys)
    assert got is not None and got.tolist() == picks
    # an equal string that is another object is not found: the caller then looks values up
    copy = "".join(["#", keys[0]])[1:] if keys[0] else None
    if copy is not None and copy is not keys[0]:
        objs = [keys[i] for i in picks] + [copy]
        assert _fast._positions(iter(objs), len(objs), keys) is None


def test_positions_with_many_colliding_keys() -> None:
    keys = [f"S{i:05d}" for i in range(5000)]  # ~190 expected collisions at 1/8 load
    picks = [(i * 7919) % len(keys) for i in range(100_000)]
    got = _fast._positions(iter([keys[i] for i in picks]), len(picks), keys)
    assert got is not None and got.tolist() == picks
    assert _fast._positions(iter(["".join(["S", "00000"])]), 1, keys) is None  # equal, not same


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.instance.json")), ids=lambda p: p.name)
def test_choices_looked_up_by_value_agree(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback when ``_positions`` cannot place a choice (dict lookups) agrees too."""
    monkeypatch.setattr(_fast, "_positions", lambda *args: None)
    check_agreement(path.read_bytes())


@settings(max_examples=100, deadline=None)
@given(instances(), st.integers(1, 3))
def test_canonical_hash_across_blocks(obj: dict[str, Any], chunk: int) -> None:
    """``instance_sha256`` encoded a few applicants per block equals the exact path's."""
    data = orjson.dumps(obj)
    exact = _exact(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_fast, "_CHUNK", chunk)
        fast = _fast.decode(data)
    if fast is not None:
        assert not isinstance(exact, str)
        assert fast[1] == exact[1]


def test_identity_matching_survives_the_literal_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review F6 (session 3): a second decode of the same school ids in one process got the
    first decode's objects from typing's Literal cache, so identity matching always fell back
    to lookups by value (correct, slower).  Every decode must match by identity."""
    results: list[bool] = []
    positions = _fast._positions

    def spy(*args: Any) -> Any:
        out = positions(*args)
        results.append(out is not None)
        return out

    monkeypatch.setattr(_fast, "_positions", spy)
    schools = [{"id": f"school-{i}", "capacity": 1} for i in range(3)]
    apps = [{"id": f"a{i}", "choices": ["school-2", "school-0"]} for i in range(4)]
    for _ in range(2):  # fresh bytes each time: new str objects for the school ids
        assert check_agreement(orjson.dumps(inst(schools=schools, applicants=apps)))
    assert len(results) >= 2 and all(results)
