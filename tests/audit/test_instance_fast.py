"""The instance check's fast reading equals its definition, and every check still fails.

``audit.draw.read_instance`` (parse, re-canonicalise, hash without the seed) is the definition.
``audit.draw.read_canonical_instance`` reads the same members and digest off the bytes when the
lottery engine's ``instance_sha256`` proves them canonical; in every other case it returns None
and the verifier falls back to the definition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery
from audit import draw
from audit.verify import verify_bundle
from tests.lottery.strategies import instances

from .fixtures import DRAW_ID, Campaign, build_campaign
from .test_end_to_end import NOW, P, _entries, _failed, _find, _republish, _status, _verify

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

# Ids that look like the structure the fast path searches for.
AWKWARD = st.sampled_from(
    [
        "format",
        "seed",
        "tie_breaking",
        ',"seed":"',
        '"format":"paiwei-instance/1","group_policy":"x"',
        "\\",
        '\\"',
        "}",
        "]",
        "]}",
        "]}}",
        '],"waitlist":[',
        '":null',
        '{"choice":',
        "\U0001f600",
    ]
)


@st.composite
def awkward_instances(draw_: st.DrawFn) -> dict[str, Any]:
    inst = draw_(instances())
    names = draw_(st.lists(AWKWARD, unique=True, max_size=3))
    for i, name in enumerate(names):
        if i < len(inst["applicants"]) and all(a["id"] != name for a in inst["applicants"]):
            inst["applicants"][i]["id"] = name
    school = draw_(AWKWARD)
    old = inst["schools"][0]["id"]
    if all(sc["id"] != school for sc in inst["schools"]):
        inst["schools"][0]["id"] = school
        for a in inst["applicants"]:
            a["choices"] = [school if c == old else c for c in a["choices"]]
            if a.get("priority"):
                a["priority"] = {school if k == old else k: v for k, v in a["priority"].items()}
    return inst


def _engine_sha(raw: bytes) -> str:
    sha = draw.result_instance_sha256(lottery.run(raw))
    assert sha is not None
    return sha


@settings(max_examples=150, deadline=None)
@given(awkward_instances(), st.booleans())
def test_fast_reading_equals_the_definition(inst: dict[str, Any], newline: bool) -> None:
    raw = lottery.canonical_json(inst) + (b"\n" if newline else b"")
    result = lottery.run(raw)
    sha = draw.result_instance_sha256(result)
    assert sha == json.loads(result)["instance_sha256"]
    fast = draw.read_canonical_instance(raw, sha)
    assert fast is not None
    assert fast == draw.read_instance(raw)


@settings(max_examples=100, deadline=None)
@given(awkward_instances(), st.sampled_from(["indent", "unsorted", "ascii", "space", "crlf"]))
def test_non_canonical_bytes_are_never_read_fast(inst: dict[str, Any], how: str) -> None:
    canonical = lottery.canonical_json(inst)
    if how == "indent":
        raw = json.dumps(inst, indent=1, ensure_ascii=False).encode()
    elif how == "unsorted":
        raw = json.dumps(dict(reversed(inst.items())), separators=(",", ":")).encode()
    elif how == "ascii":
        raw = json.dumps(inst, sort_keys=True, separators=(",", ":")).encode()
    elif how == "space":
        raw = canonical + b" \n"
    else:
        raw = canonical + b"\r\n"
    fast = draw.read_canonical_instance(raw, _engine_sha(raw))
    if raw.removesuffix(b"\n") != canonical:
        assert fast is None
    else:  # json.dumps happened to write the canonical form
        assert fast == draw.read_instance(raw)


def test_wrong_digest_or_edited_bytes_are_not_read_fast() -> None:
    inst = json.loads((VECTORS / "da-single-all-or-none.instance.json").read_bytes())
    raw = lottery.canonical_json(inst) + b"\n"
    sha = _engine_sha(raw)
    assert draw.read_canonical_instance(raw, sha) == draw.read_instance(raw)
    assert draw.read_canonical_instance(raw, "00" * 32) is None
    for old, new in [(b'"seed":"', b'"seed": "'), (b'"single"', b'"multiple"'), (b"}\n", b"}")]:
        edited = raw.replace(old, new, 1)
        if edited != raw.removesuffix(b"\n"):
            assert draw.read_canonical_instance(edited, sha) is None


def test_result_instance_sha256_of_foreign_bytes_is_none() -> None:
    assert draw.result_instance_sha256(b"") is None
    assert draw.result_instance_sha256(b'{"instance_sha256":"' + b"0" * 64 + b'"}') is None


# End to end: the fast path is taken, and the instance check still fails where it must.


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    return build_campaign(tmp_path_factory.mktemp("campaign") / "bundle")


def test_verifier_takes_the_fast_path(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> object:
        raise AssertionError("the definition was used on a canonical instance")

    monkeypatch.setattr(draw, "read_instance", refuse)
    assert _status(_verify(campaign))[f"{P}.instance"][0] == "passed"


def test_non_canonical_instance_falls_back(campaign: Campaign, tmp_path: Path) -> None:
    """A pretty-printed instance.json has the same value: still verified, by the definition."""
    raw = json.dumps(campaign.instance, indent=2).encode() + b"\n"
    path = _republish(campaign, tmp_path, _entries(campaign), instance=raw)
    report = _verify(campaign, path)
    assert report.verdict == "VALID", _failed(report)


def test_without_the_engine_the_definition_decides(campaign: Campaign) -> None:
    report = verify_bundle(
        campaign.path, campaign.trust, witnesses=2, now=NOW, lottery=None, previous=None
    )
    assert _status(report)[f"{P}.instance"][0] == "passed"


def test_roster_lies_about_the_mechanism(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    roster = _find(entries, "draw.roster")["body"]
    roster["mechanism"] = (
        "preference-rounds"
        if roster["mechanism"] == "deferred-acceptance"
        else "deferred-acceptance"
    )
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert "instance.json mechanism differs from draw.roster" in failed[f"{P}.instance"]


@pytest.mark.parametrize("field", ["group_policy", "tie_breaking"])
def test_roster_lies_about_a_policy(campaign: Campaign, tmp_path: Path, field: str) -> None:
    entries = _entries(campaign)
    _find(entries, "draw.roster")["body"][field] = "other"
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert f"instance.json {field} differs from draw.roster" in failed[f"{P}.instance"]


def test_instance_with_another_seed(campaign: Campaign, tmp_path: Path) -> None:
    """Same roster, another seed in instance.json (result made to match): the instance check."""
    instance = dict(campaign.instance, seed="cd" * 32)
    raw = lottery.canonical_json(instance) + b"\n"
    result = lottery.run(raw)
    entries = _entries(campaign)
    _find(entries, "draw.result")["body"] = draw.result_body(DRAW_ID, result)
    path = _republish(campaign, tmp_path, entries, instance=raw, result=result)
    failed = _failed(_verify(campaign, path, previous=None))
    assert list(failed) == [f"{P}.instance"]
    assert "instance.json's seed is not the logged seed" in failed[f"{P}.instance"]


@settings(max_examples=150, deadline=None)
@given(awkward_instances())
def test_engine_result_counts_equal_the_definition(inst: dict[str, Any]) -> None:
    result = lottery.run(lottery.canonical_json(inst))
    counted = draw._count_engine_result(result)
    if b"\\" in result:
        assert counted is None
    else:
        assert counted is not None
    assert draw.engine_result_body("d1", result) == draw.result_body("d1", result)


def test_ids_that_look_like_list_ends_are_counted_right() -> None:
    ids = ["]}}", "]", "]}", "a", "],"]
    inst = {
        "format": "paiwei-instance/1",
        "seed": "00" * 32,
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "schools": [{"id": "]}", "capacity": 1}, {"id": "}", "capacity": 0}],
        "applicants": [{"id": i, "choices": ["]}", "}"]} for i in ids],
    }
    result = lottery.run(lottery.canonical_json(inst))
    assert draw._count_engine_result(result) is not None
    assert draw.engine_result_body("d1", result) == draw.result_body("d1", result)


def test_engine_result_counts_refuse_other_layouts() -> None:
    """Only the engine's layout is counted (the verifier first compares the bytes with its own
    recomputation; element types are the engine's, not checked here)."""
    result = (VECTORS / "da-single-all-or-none.result.json").read_bytes()
    assert draw._count_engine_result(result) is not None
    value = json.loads(result)
    for edited in [
        json.dumps(value, indent=1).encode(),
        json.dumps(value, ensure_ascii=True).encode(),
        result.replace(b'"schools":{', b'"schools":{"x":1,', 1),
        result.replace(b'"waitlist":[', b'"waiting":[', 1),
        result.replace(b'{"assignments":', b'{"assignment":', 1),
    ]:
        assert draw._count_engine_result(edited) is None


def test_edited_result_is_counted_by_the_definition(
    campaign: Campaign, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """result.json that is not the engine's output never takes the byte-counting path."""
    result = (campaign.path / "draws" / DRAW_ID / "result.json").read_bytes()
    edited = result.replace(b'"admitted":[', b'"admitted":[1,', 1)
    entries = _entries(campaign)
    _find(entries, "draw.result")["body"] = draw.result_body(DRAW_ID, edited)
    path = _republish(campaign, tmp_path, entries, result=edited)
    monkeypatch.setattr(draw, "_count_engine_result", None)  # would raise if called
    failed = _failed(_verify(campaign, path, previous=None))
    assert list(failed) == [f"{P}.recompute"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("applicants", 1), ("placed", 0), ("counts", {}), ("instance_sha256", "00" * 32)],
)
def test_logged_result_counts_are_checked(
    campaign: Campaign, tmp_path: Path, field: str, value: object
) -> None:
    entries = _entries(campaign)
    _find(entries, "draw.result")["body"][field] = value
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert list(failed) == [f"{P}.result-entry"]
    assert f"result.json does not match draw.result's {field}" in failed[f"{P}.result-entry"]


def test_logged_count_of_one_school_is_checked(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    counts = _find(entries, "draw.result")["body"]["counts"]
    school = sorted(counts)[0]
    counts[school]["waitlist"] += 1
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert list(failed) == [f"{P}.result-entry"]


def test_verifier_counts_the_engine_result_off_its_bytes(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_a: object, **_k: object) -> object:
        raise AssertionError("the definition was used on the engine's own result")

    monkeypatch.setattr(draw, "result_body", refuse)
    assert _status(_verify(campaign))[f"{P}.result-entry"][0] == "passed"
