"""The draw is exclusive (simultaneous presses -> one draw) and crash-safe (a process killed in
the middle of the draw transaction leaves no result; re-running gives the identical result)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from admissions.campaigns.models import Placement
from admissions.ceremony.models import Draw
from tests.admissions.ceremony_world import AFTER_BEACON, ceremony_until_run, frozen_world
from tests.admissions.helpers import Api
from tests.admissions.test_ceremony_rules import log_kinds, log_size

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


async def test_simultaneous_runs_make_one_draw(api: Api, backend: str) -> None:
    # The requirement is for PostgreSQL (row lock FOR UPDATE); SQLite serialises writers with
    # BEGIN IMMEDIATE and is checked too.
    await frozen_world(api)
    d = await ceremony_until_run(api)
    size = await log_size(api)
    rs = await asyncio.gather(
        *(
            api.client.post(f"/draws/{d['id']}/run", headers=api.h["city" if i % 2 else "admin"])
            for i in range(4)
        )
    )
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    bodies = [r.json() for r in rs]
    assert all(b == bodies[0] for b in bodies)
    kinds = await log_kinds(api)
    assert kinds.count("draw.seed") == 1 and kinds.count("draw.result") == 1
    assert kinds.count("roster.public") == 1
    # seed + result + roster.public (PUB1 oversubscribed: phase stays frozen)
    assert await log_size(api) == size + 3
    async with api.db() as s, s.begin():
        n = (
            await s.execute(
                sa.select(sa.func.count())
                .select_from(Placement)
                .where(Placement.basis == "lottery")
            )
        ).scalar_one()
    assert n == bodies[0]["placed"]


CHILD = textwrap.dedent(
    """
    import asyncio, hashlib, sys
    from datetime import datetime
    from admissions.ceremony import service as svc
    from admissions.clock import FakeClock
    from admissions.context import Principal, make_context
    from admissions.db.engine import make_engine, make_sessionmaker
    from admissions.settings import Settings

    url, draw_id, marker, now = sys.argv[1:5]
    original = svc.store_placements

    async def stalled(session, d, result, when):
        n = await original(session, d, result, when)
        # seed and result entries appended, placements flushed: the transaction is open
        with open(marker, "w") as f:
            f.write(hashlib.sha256(result.removesuffix(b"\\n")).hexdigest())
        await asyncio.sleep(120)
        return n

    svc.store_placements = stalled

    async def main():
        settings = Settings.for_tests(url)
        ctx = make_context(settings, FakeClock(datetime.fromisoformat(now)))
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as session:
            await svc.run_draw(session, ctx, Principal(1, "admin"), draw_id)

    asyncio.run(main())
    """
)


async def test_killed_draw_leaves_nothing_and_rerun_is_identical(
    api: Api, db_url: str, tmp_path: Path
) -> None:
    await frozen_world(api)
    d = await ceremony_until_run(api)
    size = await log_size(api)
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, d["id"], str(marker), AFTER_BEACON.isoformat()],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "")
            assert time.monotonic() < deadline, "the child never reached the middle of the draw"
            await asyncio.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    killed_sha = marker.read_text()
    # nothing of the draw survived
    assert await log_size(api) == size
    async with api.db() as s, s.begin():
        row = (await s.execute(sa.select(Draw).where(Draw.id == d["id"]))).scalar_one()
        assert row.status == "open" and row.seed is None and row.result is None
        n = (
            await s.execute(
                sa.select(sa.func.count())
                .select_from(Placement)
                .where(Placement.basis == "lottery")
            )
        ).scalar_one()
        assert n == 0
    # re-running (after the server noticed the dead client) gives the identical result
    r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    assert r.status_code == 200, r.text
    assert r.json()["result_sha256"] == killed_sha
    res = (await api.client.get(f"/draws/{d['id']}/result")).content
    assert hashlib.sha256(res.removesuffix(b"\n")).hexdigest() == killed_sha
    assert json.loads(res)["format"] == "paiwei-result/1"
    kinds = await log_kinds(api)
    assert kinds.count("draw.result") == 1
