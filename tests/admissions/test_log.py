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
