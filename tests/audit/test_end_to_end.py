"""End to end: build a small campaign's bundle, verify it, then tamper with it in many ways.

Two kinds of tampering are tried: an outsider editing published files (caught by the
signatures and the tree), and a dishonest operator who holds the log key and re-signs a log
whose *content* is wrong (caught by the transcript checks and the recomputation).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lottery
from audit import draw, note, verify
from audit.bundle import BundleError, DrawFiles, write_bundle
from audit.checkpoint import sign_checkpoint
from audit.cosignature import add_cosignature
from audit.log import LogBuilder
from audit.verify import Report, verify_bundle

from .fixtures import DRAW_ID, ORIGIN, Campaign, build_campaign

NOW = 1_800_000_000
P = f"draw[{DRAW_ID}]"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    return build_campaign(tmp_path_factory.mktemp("campaign") / "bundle")


def _verify(c: Campaign, path: Path | None = None, **kw: Any) -> Report:
    kw.setdefault("witnesses", 2)
    kw.setdefault("previous", c.early_checkpoint)
    return verify_bundle(path or c.path, kw.pop("trust", c.trust), now=NOW, **kw)


def _status(report: Report) -> dict[str, tuple[str, str]]:
    return {ch.name: (ch.status, ch.detail) for ch in report.checks}


def _failed(report: Report) -> dict[str, str]:
    return {ch.name: ch.detail for ch in report.checks if ch.status == "failed"}


def test_valid_bundle_verifies(campaign: Campaign) -> None:
    report = _verify(campaign)
    assert report.verdict == "VALID", _failed(report)
    assert report.exit_code == 0
    assert all(ch.status == "passed" for ch in report.checks)
    names = [ch.name for ch in report.checks]
    for name in (
        "log.entries",
        "log.tree",
        "log.signature",
        "log.cosignatures",
        "log.consistency",
        f"{P}.transcript",
        f"{P}.witnesses",
        f"{P}.reveals",
        f"{P}.beacon",
        f"{P}.timing",
        f"{P}.seed",
        f"{P}.instance",
        f"{P}.result-entry",
        f"{P}.recompute",
    ):
        assert name in names


def test_skipped_checks_are_never_valid(campaign: Campaign) -> None:
    report = _verify(campaign, previous=None)
    assert _status(report)["log.consistency"][0] == "not performed"
    assert report.verdict == "INCOMPLETE" and report.exit_code == 1
    report = verify_bundle(
        campaign.path,
        campaign.trust,
        now=NOW,
        previous=campaign.early_checkpoint,
        beacon=None,
        lottery=None,
    )
    st_ = _status(report)
    assert st_[f"{P}.beacon"][0] == st_[f"{P}.recompute"][0] == "not performed"
    assert "audit.beacon is not available" in st_[f"{P}.beacon"][1]
    assert report.verdict == "INCOMPLETE"


def _copy(c: Campaign, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(c.path, dst)
    return dst


# ---------------------------------------------------------------------------------------------
# An outsider edits the published files.


def _edit_line(path: Path, seq: int, fn: Callable[[bytes], bytes]) -> None:
    f = path / "log" / "entries.jsonl"
    lines = f.read_bytes().split(b"\n")
    lines[seq] = fn(lines[seq])
    f.write_bytes(b"\n".join(lines))


def test_changed_registration_breaks_the_tree(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    _edit_line(path, 5, lambda b: b.replace(b'"hukou":false', b'"hukou":true '[:-1]))
    failed = _failed(_verify(campaign, path))
    assert "root of the entries differs from the checkpoint" in failed["log.tree"]


def test_non_canonical_entry(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    _edit_line(path, 2, lambda b: b.replace(b'{"actor"', b'{ "actor"'))
    failed = _failed(_verify(campaign, path))
    assert "entry 2: bytes are not the RFC 8785 canonical form" in failed["log.entries"]


def test_swapped_entries(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    f = path / "log" / "entries.jsonl"
    lines = f.read_bytes().split(b"\n")
    lines[1], lines[2] = lines[2], lines[1]
    f.write_bytes(b"\n".join(lines))
    failed = _failed(_verify(campaign, path))
    assert "entry 1: wrong seq (expected 1, found 2)" in failed["log.entries"]
    assert "log.tree" in failed


def test_truncated_log(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    f = path / "log" / "entries.jsonl"
    f.write_bytes(b"".join(line + b"\n" for line in f.read_bytes().split(b"\n")[:-2]))
    failed = _failed(_verify(campaign, path))
    assert (
        "checkpoint size differs from the number of entries (expected 33, found 34)"
        in failed["log.tree"]
    )


def test_entries_without_a_final_newline(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    f = path / "log" / "entries.jsonl"
    f.write_bytes(f.read_bytes()[:-1])
    report = _verify(campaign, path)
    failed = _failed(report)
    assert "log/entries.jsonl does not end with a newline" in failed["bundle.manifest"]
    assert "log.entries" not in failed and "log.tree" not in failed  # the same 34 entries
    assert report.facts["log_size"] == 34


def test_forged_checkpoint_signature(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    cp = (path / "log" / "checkpoint").read_text()
    _text, sigs = cp.split("\n\n", 1)
    first = sigs.split("\n")[0]
    name, b64 = first.rsplit(" ", 1)
    forged = b64[:10] + ("A" if b64[10] != "A" else "B") + b64[11:]
    (path / "log" / "checkpoint").write_text(cp.replace(first, f"{name} {forged}"))
    failed = _failed(_verify(campaign, path))
    assert f"invalid signature for key {ORIGIN}" in failed["log.signature"]


def test_missing_cosignature(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    cp = (path / "log" / "checkpoint").read_text()
    (path / "log" / "checkpoint").write_text("".join(cp.splitlines(keepends=True)[:-1]))
    failed = _failed(_verify(campaign, path))
    assert (
        "too few cosignatures by trusted witnesses (expected at least 2, found 1"
        in failed["log.cosignatures"]
    )


def test_untrusted_log_key(campaign: Campaign) -> None:
    _, impostor = note.generate_key(ORIGIN, seed=b"\x99" * 32)
    report = _verify(campaign, trust=[impostor, *campaign.witness_vkeys])
    assert "note has no verifiable signatures" in _failed(report)["log.signature"]
    report = _verify(campaign, trust=campaign.witness_vkeys)
    assert "no trusted key is named after the origin" in _failed(report)["log.signature"]


def test_tampered_result_file(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    f = path / "draws" / DRAW_ID / "result.json"
    result = json.loads(f.read_bytes())
    s1 = result["schools"]["S1"]
    s1["admitted"][0], s1["waitlist"][0] = s1["waitlist"][0], s1["admitted"][0]
    f.write_bytes(lottery.canonical_json(result) + b"\n")
    failed = _failed(_verify(campaign, path))
    assert "result.json does not match draw.result's result_sha256" in failed[f"{P}.result-entry"]
    assert "recomputed result differs from result.json at byte" in failed[f"{P}.recompute"]


def test_missing_manifest_is_unusable(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    (path / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        _verify(campaign, path)


def test_forked_previous_checkpoint(campaign: Campaign) -> None:
    """The log once showed a different tree of the same size: a fork, caught by consistency."""
    fork = sign_checkpoint(ORIGIN, 24, b"\x42" * 32, campaign.log_skey)
    failed = _failed(_verify(campaign, previous=fork))
    assert "does not lead to the old root" in failed["log.consistency"]
    bigger = sign_checkpoint(ORIGIN, 40, b"\x42" * 32, campaign.log_skey)
    assert "the log shrank" in _failed(_verify(campaign, previous=bigger))["log.consistency"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_byte_change_in_log_or_checkpoint_is_caught(
    campaign: Campaign, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    which = data.draw(
        st.sampled_from(["log/entries.jsonl", "log/checkpoint", f"draws/{DRAW_ID}/result.json"])
    )
    path = tmp_path_factory.mktemp("flip") / "b"
    shutil.copytree(campaign.path, path)
    f = path / which
    raw = bytearray(f.read_bytes())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = (raw[pos] + data.draw(st.integers(1, 255))) % 256
    f.write_bytes(bytes(raw))
    try:
        report = _verify(campaign, path)
    except BundleError:
        return  # unusable input (exit 2) is also a rejection
    assert report.verdict == "INVALID", (which, pos)


# ---------------------------------------------------------------------------------------------
# A dishonest operator holds the log key and re-signs a log whose content is wrong.


def _entries(c: Campaign) -> list[dict[str, Any]]:
    return [json.loads(e) for e in c.entries]


def _republish(
    c: Campaign,
    tmp_path: Path,
    entries: list[dict[str, Any]],
    *,
    instance: bytes | None = None,
    result: bytes | None = None,
) -> Path:
    log = LogBuilder()
    for e in entries:
        log.append(e["time"], e["kind"], e["actor"], e["body"])
    path = c.path / "draws" / DRAW_ID
    instance = instance if instance is not None else (path / "instance.json").read_bytes()
    result = result if result is not None else (path / "result.json").read_bytes()
    cp = sign_checkpoint(ORIGIN, log.size, log.root(), c.log_skey)
    for i, skey in enumerate(c.witness_skeys[:2]):
        cp = add_cosignature(cp, skey, 1_784_800_000 + i)
    return write_bundle(
        tmp_path / "republished",
        origin=ORIGIN,
        entries=log.entries,
        checkpoint=cp,
        draws={DRAW_ID: DrawFiles(instance, result)},
        log_vkey=c.log_vkey,
        witness_vkeys=c.witness_vkeys,
    )


def _find(entries: list[dict[str, Any]], kind: str, n: int = 0) -> dict[str, Any]:
    return [e for e in entries if e["kind"] == kind][n]


def test_operator_reorders_time(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    entries[10]["time"] = "2026-05-19T00:00:00Z"
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries)))
    assert (
        "entry 10: time 2026-05-19T00:00:00Z is earlier than the entry before"
        in failed["log.entries"]
    )


def test_operator_reveals_before_all_commits(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    i_commit = entries.index(_find(entries, "draw.commit", 2))
    i_reveal = entries.index(_find(entries, "draw.reveal", 0))
    entries[i_commit], entries[i_reveal] = entries[i_reveal], entries[i_commit]
    entries[i_commit]["time"], entries[i_reveal]["time"] = (
        entries[i_reveal]["time"],
        entries[i_commit]["time"],
    )
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert "draw entries are not in the required order" in failed[f"{P}.transcript"]


def test_operator_edits_a_revealed_secret(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    reveal = _find(entries, "draw.reveal", 1)
    lines = reveal["body"]["note"].split("\n")
    lines[3] = "secret " + "00" * 32
    reveal["body"]["note"] = "\n".join(lines)
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert "invalid signature for key notary.example/w" in failed[f"{P}.witnesses"]


def test_operator_changes_the_seed(campaign: Campaign, tmp_path: Path) -> None:
    """A chosen seed, with instance and result made to match it: the seed check catches it."""
    entries = _entries(campaign)
    chosen = "ab" * 32
    _find(entries, "draw.seed")["body"]["seed"] = chosen
    instance = dict(campaign.instance, seed=chosen)
    instance_bytes = lottery.canonical_json(instance) + b"\n"
    result = lottery.run(instance_bytes)
    _find(entries, "draw.result")["body"] = draw.result_body(DRAW_ID, result)
    path = _republish(campaign, tmp_path, entries, instance=instance_bytes, result=result)
    failed = _failed(_verify(campaign, path, previous=None))
    assert list(failed) == [f"{P}.seed"]
    assert (
        "the logged seed is not HKDF-Extract(roster digest, beacon and reveals)"
        in failed[f"{P}.seed"]
    )


def test_operator_uses_another_beacon_round(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    _find(entries, "draw.beacon")["body"]["evidence"]["round"] = 30662982
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert "round: the roster fixed 30662990, the evidence is for 30662982" in failed[f"{P}.beacon"]


def test_operator_logs_a_wrong_beacon_value(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    _find(entries, "draw.beacon")["body"]["value"] = "00" * 32
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert "beacon value in draw.beacon is not the one the evidence gives" in failed[f"{P}.beacon"]
    assert "the logged seed is not HKDF-Extract" in failed[f"{P}.seed"]


def test_operator_logs_a_reveal_after_the_beacon(campaign: Campaign, tmp_path: Path) -> None:
    entries = _entries(campaign)
    for e in entries[entries.index(_find(entries, "draw.reveal", 2)) :]:
        e["time"] = "2026-07-23T07:39:00Z"
    failed = _failed(_verify(campaign, _republish(campaign, tmp_path, entries), previous=None))
    assert (
        "logged at or after the beacon could be known (2026-07-23T07:38:54Z)"
        in failed[f"{P}.timing"]
    )


def test_operator_swaps_the_roster(campaign: Campaign, tmp_path: Path) -> None:
    """instance.json drawn is not the frozen roster (one applicant dropped)."""
    instance = dict(campaign.instance)
    instance["applicants"] = list(instance["applicants"])[1:]  # type: ignore[call-overload]
    instance_bytes = lottery.canonical_json(instance) + b"\n"
    result = lottery.run(instance_bytes)
    entries = _entries(campaign)
    _find(entries, "draw.result")["body"] = draw.result_body(DRAW_ID, result)
    path = _republish(campaign, tmp_path, entries, instance=instance_bytes, result=result)
    failed = _failed(_verify(campaign, path, previous=None))
    assert (
        "instance.json (without seed) is not the roster frozen in draw.roster"
        in failed[f"{P}.instance"]
    )


def test_operator_withholds_reveals_below_the_minimum(tmp_path: Path) -> None:
    c = build_campaign(tmp_path / "b", revealing=(1,), min_reveals=2)
    failed = _failed(
        verify_bundle(c.path, c.trust, witnesses=2, now=NOW, previous=c.early_checkpoint)
    )
    assert "fewer valid reveals than the roster's minimum" in failed[f"{P}.reveals"]


def test_missing_reveal_is_left_out_by_the_rule(tmp_path: Path) -> None:
    c = build_campaign(tmp_path / "b", revealing=(0, 2), min_reveals=2)
    report = verify_bundle(c.path, c.trust, witnesses=2, now=NOW, previous=c.early_checkpoint)
    assert report.verdict == "VALID", _failed(report)
    assert "left out by the pre-announced rule" in _status(report)[f"{P}.reveals"][1]


def test_untrusted_witness_in_roster(campaign: Campaign) -> None:
    trust = [campaign.log_vkey, campaign.witness_vkeys[0], campaign.witness_vkeys[1]]
    failed = _failed(_verify(campaign, trust=trust))
    assert "in the roster is not among the trusted keys" in failed[f"{P}.witnesses"]


def test_timing_is_witnessed_by_an_earlier_cosigned_checkpoint(campaign: Campaign) -> None:
    detail = _status(_verify(campaign))[f"{P}.timing"][1]
    assert "witnessed: notary.example/w2 cosigned a checkpoint of size 31" in detail


def test_timing_without_a_witness_anchor_says_so(tmp_path: Path) -> None:
    c = build_campaign(tmp_path / "b", witnessed_reveals=False)
    status, detail = _status(_verify(c))[f"{P}.timing"]
    assert status == "passed" and "by the log's own times" in detail


def test_forged_earlier_checkpoint(campaign: Campaign, tmp_path: Path) -> None:
    path = _copy(campaign, tmp_path)
    forged = sign_checkpoint(ORIGIN, 31, b"\x07" * 32, campaign.log_skey)
    (path / "log" / "checkpoints" / "31").write_text(forged)
    failed = _failed(_verify(campaign, path))
    assert "log/checkpoints/31:" in failed["log.checkpoints"]
    assert "does not lead to the old root" in failed["log.checkpoints"]


def test_hostile_body_shapes_give_failed_checks_not_tracebacks(
    campaign: Campaign, tmp_path: Path
) -> None:
    entries = _entries(campaign)
    roster = _find(entries, "draw.roster")["body"]
    roster["witnesses"] = 7
    roster["beacon"] = ["not", "an", "object"]
    _find(entries, "draw.seed")["body"]["revealed"] = {"x": 1}
    report = _verify(campaign, _republish(campaign, tmp_path, entries), previous=None)
    failed = _failed(report)
    assert report.verdict == "INVALID"
    assert "draw.roster has no witness keys" in failed[f"{P}.witnesses"]
    assert f"{P}.beacon" in failed


@pytest.fixture
def second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recompute every draw in a second process (verify._Recomputation), as on a large bundle
    on a machine with two cores."""
    monkeypatch.setattr(verify, "BACKGROUND_MIN_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def _engine_here_fails(data: bytes) -> bytes:
    raise AssertionError("the engine ran in this process")


def test_the_draw_is_recomputed_in_a_second_process(
    campaign: Campaign, second_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lottery, "run", _engine_here_fails)  # the child's lottery is its own
    report = _verify(campaign)
    assert report.verdict == "VALID", _failed(report)


def test_a_failed_second_process_falls_back_to_the_engine_here(
    campaign: Campaign, second_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the child exits 1 at once
    report = _verify(campaign)
    assert report.verdict == "VALID", _failed(report)


def test_an_instance_the_engine_rejects_reads_the_same_in_a_second_process(
    campaign: Campaign, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _republish(campaign, tmp_path, _entries(campaign), instance=b'{"format": 1}\n')
    here = _status(_verify(campaign, path, previous=None))
    monkeypatch.setattr(verify, "BACKGROUND_MIN_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    there = _status(_verify(campaign, path, previous=None))
    assert there == here
    assert here[f"{P}.recompute"][0] == "failed"
    assert "the lottery engine rejects instance.json" in here[f"{P}.recompute"][1]


def test_no_second_process_at_all_falls_back_to_the_engine_here(
    campaign: Campaign, second_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no process for you")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    report = _verify(campaign)
    assert report.verdict == "VALID", _failed(report)
