"""The in-database log: queued records survive a crash before sequencing and are sequenced before
any later direct append; concurrent registrations give a contiguous, verifiable log."""

from __future__ import annotations

import asyncio
import json

import pytest

from admissions.auditlog.service import enqueue
from audit.checkpoint import verify_checkpoint
from audit.merkle import leaf_hash, root
from audit.note import verifier_key_text
from tests.admissions.helpers import CLOSE_AT, Api, application

pytestmark = pytest.mark.anyio


async def _entries(api: Api) -> list[dict[str, object]]:
    r = await api.client.get("/log/entries?limit=1000")
    return [json.loads(e["entry"]) for e in r.json()["entries"]]


async def test_queued_record_left_by_a_crash_is_sequenced_first(world: Api) -> None:
    api = world
    # A registration's record committed, the process died before sequencing it.
    async with api.db() as s, s.begin():
        await enqueue(s, "registration.withdraw", "parent#99", {"application": "X", "group": None})
    before = await _entries(api)
    assert all(e["actor"] != "parent#99" for e in before)
    api.clock.set(CLOSE_AT)
    assert (await api.phase("closed")).status_code == 200
    after = await _entries(api)
    assert [e["kind"] for e in after[len(before) :]] == ["registration.withdraw", "campaign.phase"]
    assert [e["seq"] for e in after] == list(range(len(after)))


async def test_concurrent_registrations_make_a_contiguous_verifiable_log(world: Api) -> None:
    api = world
    rs = await asyncio.gather(
        *(api.register(application(serial=100 + i), who=("p1", "p2")[i % 2]) for i in range(12))
    )
    assert [r.status_code for r in rs] == [201] * 12
    receipts = [r.json()["receipt"] for r in rs]
    entries = await _entries(api)
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    times = [e["time"] for e in entries]
    assert times == sorted(times)
    raw = (await api.client.get("/log/entries?limit=1000")).json()["entries"]
    for rc in receipts:  # each receipt's entry is exactly the stored entry at its seq
        assert raw[rc["log_seq"]]["entry"] == rc["log_entry"]
    cp = verify_checkpoint(
        (await api.client.get("/log/checkpoint")).text,
        [verifier_key_text(api.ctx.settings.log_signing_key)],
    )
    assert cp.size == len(raw)
    assert cp.root == root([leaf_hash(e["entry"].encode()) for e in raw])


async def test_receipt_verifies_offline_against_a_bundle(world: Api, tmp_path: object) -> None:
    from pathlib import Path

    from audit.bundle import write_bundle
    from audit.merkle import leaf_hash
    from audit.proof import parse_tlog_proof, verify_tlog_proof
    from audit.receipt import verify_receipt

    api = world
    body = application(serial=61)
    number = (await api.register(body)).json()["number"]
    for i in range(3):  # later entries: the receipt's checkpoint is older than the bundle's
        assert (await api.register(application(serial=62 + i), who="p2")).status_code == 201
    r = await api.client.get(f"/applications/{number}/receipt", headers=api.h["p1"])
    assert r.status_code == 200, r.text
    rc = r.json()
    assert (
        await api.client.get(f"/applications/{number}/receipt", headers=api.h["p2"])
    ).status_code == 404
    vkey = verifier_key_text(api.ctx.settings.log_signing_key)
    proof = parse_tlog_proof(rc["tlog_proof"])
    assert proof.index == rc["log_seq"]
    verify_tlog_proof(proof, leaf_hash(rc["log_entry"].encode()), [vkey])
    # a bundle published later: the receipt checks out with paiwei-audit's library
    assert (await api.register(application(serial=70), who="p2")).status_code == 201
    raw = (await api.client.get("/log/entries?limit=1000")).json()["entries"]
    cp = (await api.client.get("/log/checkpoint")).text
    bundle = write_bundle(
        Path(str(tmp_path)) / "bundle",
        origin=api.ctx.settings.log_origin,
        entries=[e["entry"].encode() for e in raw],
        checkpoint=cp,
        draws={},
        log_vkey=vkey,
    )
    from admissions.applications.service import load, open_record

    async with api.db() as s, s.begin():  # the family's own record (what it typed in)
        record = open_record(api.ctx, await load(s, number))["record"]
    report = verify_receipt(
        rc["tlog_proof"], bundle, [vkey], salt=bytes.fromhex(rc["salt"]), record=record
    )
    assert report.verdict == "VALID", report.to_json()
    record["child"]["name"] = "李四"
    report = verify_receipt(
        rc["tlog_proof"], bundle, [vkey], salt=bytes.fromhex(rc["salt"]), record=record
    )
    assert report.verdict != "VALID"


async def test_sequencer_gives_up_on_a_record_that_never_appears(world: Api) -> None:
    from admissions.auditlog import service as log

    async with world.db() as s:
        with pytest.raises(RuntimeError, match="never sequenced"):
            await log.sequenced(s, world.ctx, 10**9)


async def test_group_committed_registration_keeps_the_invariants(
    world: Api, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a registration has cached the campaign's year, rules and schools, PostgreSQL takes
    the group-commit path (``applications.service._register_fast``): concurrent duplicates
    still give one 201 and 409s with nothing else written, every receipt is the stored log
    entry, the stored row reads back like any other, and a closed window is still refused."""
    from admissions.applications import service

    fast: list[bool] = []
    real = service._register_fast

    async def spy(*args: object, **kwargs: object) -> object:
        out = await real(*args, **kwargs)  # type: ignore[arg-type]
        fast.append(out is not None)
        return out

    monkeypatch.setattr(service, "_register_fast", spy)
    assert (await world.register(application(serial=300))).status_code == 201
    before = await world.counts()
    who = ("p1", "p2", "p1", "p2")
    rs = await asyncio.gather(*(world.register(application(serial=301), who=w) for w in who))
    assert sorted(r.status_code for r in rs) == [201, 409, 409, 409], [r.text for r in rs]
    assert await world.counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    if backend == "postgresql":
        assert fast[1:] == [True]  # the 409s raise inside the fast path
    owner, ok = next((w, r.json()) for w, r in zip(who, rs, strict=True) if r.status_code == 201)
    raw = (await world.client.get("/log/entries?limit=1000")).json()["entries"]
    assert raw[ok["receipt"]["log_seq"]]["entry"] == ok["receipt"]["log_entry"]
    r = await world.client.get(f"/applications/{ok['number']}", headers=world.h[owner])
    assert r.status_code == 200
    got = r.json()
    assert got["choices"] == ok["choices"] and got["status"] == "active"
    assert got["claims"] == ok["claims"] and got["district"] == ok["district"]
    masked = got["personal"]["id_number_masked"]
    assert masked[-4:] == application(serial=301)["child"]["id_number"][-4:]
    world.clock.set(CLOSE_AT)
    before = await world.counts()
    r = await world.register(application(serial=302))
    assert r.status_code == 409 and r.json()["type"].endswith("wrong-phase")
    assert await world.counts() == before
