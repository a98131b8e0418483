"""Group commit of registrations (admissions/applications/batch.py, PostgreSQL): one batch with
valid rows, a duplicate and a closed campaign; a batch refused as a whole; concurrent
registrations through two app instances (two workers) and officer actions give a gapless log
whose tree matches its leaves and whose receipts verify; the helpers that made the path cheaper
give the same results as what they replace."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from stdnum.cn import ric

from admissions.app import create_app
from admissions.applications.batch import (
    DUPLICATE,
    FALLBACK,
    Registration,
    Written,
    batcher,
)
from admissions.applications.models import Application
from admissions.applications.service import compact_id
from admissions.auditlog.models import LogEntry, LogState
from admissions.crypto import blind_index
from audit.checkpoint import verify_checkpoint
from audit.merkle import CompactRange, leaf_hash, root
from audit.note import verifier_key_text
from tests.admissions.helpers import Api, application, id_number

pytestmark = pytest.mark.anyio


async def _log_is_consistent(api: Api) -> list[bytes]:
    """Seqs 0..n-1, stored leaf hashes match the entries, the stored right edge and the signed
    checkpoint give the root of all leaves, and every application points at its entry."""
    async with api.db() as s, s.begin():
        cols = sa.select(LogEntry.seq, LogEntry.entry, LogEntry.leaf_hash)
        rows = (await s.execute(cols.order_by(LogEntry.seq))).all()
        state = (await s.execute(sa.select(LogState))).scalar_one()
        unlinked = (
            await s.execute(
                sa.select(sa.func.count(Application.id))
                .outerjoin(LogEntry, LogEntry.queue_id == Application.log_queue_id)
                .where(LogEntry.seq.is_(None))
            )
        ).scalar_one()
    assert [r.seq for r in rows] == list(range(len(rows)))
    assert all(leaf_hash(r.entry) == r.leaf_hash for r in rows)
    assert [json.loads(r.entry)["seq"] for r in rows] == list(range(len(rows)))
    h = state.hashes
    edge = CompactRange(state.size, [h[i : i + 32] for i in range(0, len(h), 32)])
    assert state.size == len(rows) and edge.root() == root([r.leaf_hash for r in rows])
    cp = verify_checkpoint(
        (await api.client.get("/log/checkpoint")).text,
        [verifier_key_text(api.ctx.settings.log_signing_key)],
    )
    assert (cp.size, cp.root) == (len(rows), edge.root())
    assert unlinked == 0
    times = [json.loads(r.entry)["time"] for r in rows]
    assert times == sorted(times)
    return [r.entry for r in rows]


async def _parent_id(api: Api) -> int:
    from admissions.accounts.models import User

    async with api.db() as s, s.begin():
        return int((await s.execute(sa.select(User.id).where(User.username == "p1"))).scalar_one())


def _registration(
    api: Api, serial: int, campaign: str | None = None, parent: int = 0
) -> Registration:
    """A sealed registration as ``service._register_fast`` hands it to the batcher."""
    from admissions.applications.service import new_number

    number = new_number()
    blind = api.ctx.blind(id_number(serial=serial))
    choices: dict[str, Any] = {"public": "PUB1", "private": []}
    return Registration(
        number=number,
        campaign_id=campaign or api.campaign_id,
        parent_id=parent,
        district="liangxi",
        active_index=blind,
        choices=choices,
        claims=[],
        personal=api.ctx.cipher.encrypt(b"{}", number.encode()),
        record_sha256="00" * 32,
        actor=f"parent#{parent}",
        body={"application": number, "campaign": campaign or api.campaign_id, "group": None},
    )


async def _pg_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the group commit is PostgreSQL's registration path")


async def test_one_batch_with_a_duplicate_and_a_closed_campaign(world: Api, backend: str) -> None:
    await _pg_only(backend)
    api = world
    assert (await api.register(application(serial=400))).status_code == 201  # warms the cache
    before = await api.counts()
    async with api.db() as s:
        engine = s.bind
    p = await _parent_id(api)
    regs = [
        _registration(api, 401, parent=p),
        _registration(api, 402, parent=p),
        _registration(api, 401, parent=p),  # same child again in the same batch
        _registration(api, 400, parent=p),  # already registered before the batch
        _registration(api, 403, campaign="no-such-campaign", parent=p),
        _registration(api, 404, parent=p),
    ]
    b = batcher(engine)
    results = await asyncio.gather(*(b.submit(api.ctx, r) for r in regs))
    assert [type(r).__name__ if isinstance(r, Written) else r for r in results] == [
        "Written", "Written", DUPLICATE, DUPLICATE, FALLBACK, "Written",
    ], results  # fmt: skip
    written = [r for r in results if isinstance(r, Written)]
    assert [w.seq for w in written] == list(range(before[1], before[1] + 3))  # arrival order
    assert await api.counts() == (before[0] + 3, before[1] + 3, before[2] + 3)
    entries = await _log_is_consistent(api)
    for reg, w in zip(regs, results, strict=True):
        if isinstance(w, Written):
            assert entries[w.seq] == w.entry
            e = json.loads(w.entry)
            assert e["body"] == reg.body and e["kind"] == "registration"
            assert e["actor"] == f"parent#{p}" and e["time"] == w.time


async def test_a_batch_refused_as_a_whole_writes_nothing_and_falls_back(
    world: Api, backend: str
) -> None:
    """Two rows with the same application number (a 60-bit collision, forced here) make
    PostgreSQL refuse the batch: it rolls back and every request is told to take the ORM
    path on its own."""
    await _pg_only(backend)
    api = world
    before = await api.counts()
    async with api.db() as s:
        engine = s.bind
    p = await _parent_id(api)
    a, b = _registration(api, 410, parent=p), _registration(api, 411, parent=p)
    b.number = a.number
    results = await asyncio.gather(*(batcher(engine).submit(api.ctx, r) for r in (a, b)))
    assert results == [FALLBACK, FALLBACK]
    assert await api.counts() == before


async def test_mixed_concurrent_registrations_answer_each_on_its_own(world: Api) -> None:
    """Valid, duplicate, unknown-school and bad-ID registrations sent together: every valid one
    is 201 with a receipt that is its stored entry; each bad one gets its own error body, the
    same as when sent alone; the log stays consistent (both backends)."""
    api = world
    first = await api.register(application(serial=500))
    assert first.status_code == 201
    alone_dup = await api.register(application(serial=500), who="p2")
    bad_school = application(serial=520)
    bad_school["choices"]["private"] = [{"school": "NOPE", "pool": "day"}]
    alone_school = await api.register(bad_school)
    bad_id = application(serial=530)
    bad_id["child"]["id_number"] = bad_id["child"]["id_number"][:-1] + (
        "0" if bad_id["child"]["id_number"][-1] != "0" else "1"
    )
    bodies = [application(serial=501 + i) for i in range(8)]
    bodies += [application(serial=500), bad_school, bad_id, application(serial=501)]
    rs = await asyncio.gather(
        *(api.register(b, who=("p1", "p2")[i % 2]) for i, b in enumerate(bodies))
    )
    codes = [r.status_code for r in rs]
    assert codes[:8] == [201] * 8
    assert codes[8:] == [409, 422, 422, 409], [r.text for r in rs[8:]]
    assert rs[8].json() == alone_dup.json()
    assert rs[9].json() == alone_school.json()
    assert rs[11].json() == alone_dup.json()
    assert rs[10].json()["errors"] == [
        {"field": "child.id_number", "reason": "check digit does not match (GB 11643-1999)"}
    ]
    raw = (await api.client.get("/log/entries?limit=1000")).json()["entries"]
    for r in rs[:8]:
        rc = r.json()["receipt"]
        assert raw[rc["log_seq"]]["entry"] == rc["log_entry"]
    await _log_is_consistent(api)


async def test_two_workers_and_officer_actions_keep_one_gapless_log(
    world: Api, settings: Any, backend: str
) -> None:
    """Two app instances on one database (two uvicorn workers: two batchers, two sequencers)
    register concurrently, with a duplicate across them and an edit and a withdrawal going
    through the log queue at the same time; the log is gapless, its tree matches, and a
    batch-registered family's receipt verifies."""
    from audit.proof import parse_tlog_proof, verify_tlog_proof

    api = world
    other = create_app(settings, api.clock)
    async with AsyncTestClient(app=other) as c2:
        h = api.h
        url = f"/campaigns/{api.campaign_id}/applications"
        # warm both workers' caches (first registrations take the ORM path)
        assert (await api.register(application(serial=600))).status_code == 201
        r = await c2.post(url, json=application(serial=601), headers=h["p2"])
        assert r.status_code == 201, r.text
        gone = r.json()["number"]
        edit = application(serial=600)
        edit["facts"]["address"] = "梁溪区某路2号"
        numbers = [(await api.client.get(url, headers=h["p1"])).json()["items"][0]["number"]]

        async def on_other(serial: int, who: str) -> Any:
            return await c2.post(url, json=application(serial=serial), headers=h[who])

        tasks = [api.register(application(serial=610 + i), who="p1") for i in range(15)]
        tasks += [on_other(630 + i, "p2") for i in range(15)]
        tasks += [on_other(600, "p2")]  # registered through the first worker
        tasks += [
            api.client.put(f"/applications/{numbers[0]}", json=_update(edit), headers=h["p1"]),
            c2.post(f"/applications/{gone}/withdraw", headers=h["p2"]),
        ]
        rs = await asyncio.gather(*tasks)
        codes = [r.status_code for r in rs]
        assert codes[:30] == [201] * 30, [r.text for r in rs if r.status_code != 201]
        assert codes[30:] == [409, 200, 200], [r.text for r in rs[30:]]
        entries = await _log_is_consistent(api)
        assert len(entries) == (await api.counts())[1]
        # a registration written by a batch: its receipt verifies under the checkpoint
        number = rs[5].json()["number"]
        r = await api.client.get(f"/applications/{number}/receipt", headers=h["p1"])
        assert r.status_code == 200, r.text
        rc = r.json()
        proof = parse_tlog_proof(rc["tlog_proof"])
        vkey = verifier_key_text(api.ctx.settings.log_signing_key)
        verify_tlog_proof(proof, leaf_hash(rc["log_entry"].encode()), [vkey])
        assert rc["log_entry"] == rs[5].json()["receipt"]["log_entry"]


def _update(body: dict[str, Any]) -> dict[str, Any]:
    editable = ("guardian", "district", "facts", "choices", "claims")
    return {k: v for k, v in body.items() if k in editable}


async def test_registration_stores_no_personal_data_in_clear(world: Api, backend: str) -> None:
    """A batch-written row: name and ID number only inside the AES-GCM blob, blind index
    instead of the number, log entry without them."""
    api = world
    body = application(serial=700)
    assert (await api.register(application(serial=699))).status_code == 201
    r = await api.register(body)
    assert r.status_code == 201
    number = r.json()["number"]
    async with api.db() as s, s.begin():
        row = (
            await s.execute(sa.select(Application).where(Application.number == number))
        ).scalar_one()
        entry = (
            await s.execute(sa.select(LogEntry.entry).where(LogEntry.queue_id == row.log_queue_id))
        ).scalar_one()
    idn = body["child"]["id_number"]
    for blob in (row.personal, entry, json.dumps(row.choices).encode(), row.active_index.encode()):
        assert idn.encode() not in blob and body["child"]["name"].encode() not in blob
    assert row.active_index == api.ctx.blind(idn)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_compact_id_is_stdnum_compact_on_ascii(value: str) -> None:
    assert compact_id(value) == ric.compact(value)


@given(st.text())
def test_compact_id_is_stdnum_compact(value: str) -> None:
    assert compact_id(value) == ric.compact(value)


@given(st.binary(min_size=1, max_size=64), st.text(alphabet="0123456789X", max_size=20))
def test_blind_index_is_hmac_sha256(key: bytes, number: str) -> None:
    msg = b"gb11643:" + number.encode()
    assert blind_index(key, number) == hmac.new(key, msg, hashlib.sha256).hexdigest()


async def _drop_connections(api: Api, db_url: str) -> None:
    """What a server restart, a failover or an idle timeout does to the pooled connections."""
    import asyncpg

    async with api.db() as s:
        dbname = (await s.execute(sa.text("select current_database()"))).scalar_one()
    admin = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.fetchval(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity"
            " where datname = $1 and pid <> pg_backend_pid()",
            dbname,
        )
    finally:
        await admin.close()


async def test_a_dropped_connection_is_not_reused_and_nothing_is_lost(
    world: Api, backend: str, db_url: str
) -> None:
    """A batch that fails before its COMMIT was sent stored nothing: its registrations go the
    one-by-one way (FALLBACK), and the dead connection leaves the pool (review finding F1:
    it used to fail every later batch with a 500)."""
    await _pg_only(backend)
    api = world
    assert (await api.register(application(serial=600))).status_code == 201
    parent = await _parent_id(api)
    async with api.db() as s:
        engine = s.bind
    assert isinstance(
        (await batcher(engine).submit(api.ctx, _registration(api, 601, parent=parent))), Written
    )
    await _drop_connections(api, db_url)
    outcomes = []
    for i in range(8):
        r = await batcher(engine).submit(api.ctx, _registration(api, 610 + i, parent=parent))
        outcomes.append(r if isinstance(r, str) else "written")
    assert set(outcomes) <= {FALLBACK, "written"} and outcomes[-1] == "written", outcomes
    # through HTTP: after the drop every registration is answered, and soon all with 201
    await _drop_connections(api, db_url)
    codes = [(await api.register(application(serial=700 + 2 * i))).status_code for i in range(6)]
    assert set(codes) <= {201, 500} and codes[-3:] == [201, 201, 201], codes
    await engine.dispose()  # the check's own session must not draw a connection dropped above
    await _log_is_consistent(api)
