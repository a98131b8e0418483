"""The ceremony through the HTTP API: open, commit, reveal, beacon, draw (private and 统筹 public
round), verified by the notary's verifier on a bundle made from the service's own data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import lottery
from admissions.auditlog.service import all_entries, signed_checkpoint
from admissions.campaigns.models import Placement
from admissions.ceremony.service import draw_files
from audit import draw as drawmod
from audit.bundle import DrawFiles, write_bundle
from audit.note import verifier_key_text
from audit.verify import verify_bundle
from tests.admissions.ceremony_world import (
    QUICKNET_EVIDENCE,
    ceremony_until_run,
    draw_request,
    frozen_world,
    witness_keys,
)
from tests.admissions.helpers import Api
from tests.admissions.test_ceremony_rules import log_size

pytestmark = pytest.mark.anyio


async def make_bundle(api: Api, target: Path, previous: str | None = None) -> Any:
    """Bundle of the whole log and every drawn draw (audit.bundle.write_bundle), verified."""
    async with api.db() as s:
        entries = await all_entries(s)
        cp = await signed_checkpoint(s, api.ctx)
        from admissions.ceremony.models import Draw

        async with s.begin():
            ids = list(
                (await s.execute(sa.select(Draw.id).where(Draw.status == "drawn"))).scalars()
            )
        draws = {}
        for i in ids:
            inst, res = await draw_files(s, i)
            assert res is not None
            draws[i] = DrawFiles(inst, res)
    log_vkey = verifier_key_text(api.ctx.settings.log_signing_key)
    wkeys = [v for _, v in witness_keys()]
    write_bundle(
        target,
        origin=api.ctx.settings.log_origin,
        entries=entries,
        checkpoint=cp,
        draws=draws,
        log_vkey=log_vkey,
        witness_vkeys=wkeys,
    )
    return verify_bundle(target, [log_vkey, *wkeys], previous=previous)


async def test_private_and_public_draws_verify(api: Api, tmp_path: Path) -> None:
    numbers = await frozen_world(api)
    async with api.db() as s:
        early_cp = await signed_checkpoint(s, api.ctx)
    d = await ceremony_until_run(api, reveal=(0, 2))  # witness 1 withholds: left out
    assert d["status"] == "open" and d["beacon_seq"] is not None
    r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    assert r.status_code == 200, r.text
    drawn = r.json()
    assert drawn["status"] == "drawn" and drawn["public_rosters"]
    # the seed is HKDF-Extract over the logged values, recomputed independently here
    secrets = [
        (k, bytes([0x40 + i]) * 32)
        for i, k in enumerate(sorted(w["key_id"] for w in drawn["witnesses"]))
    ]
    by_key = {w["key_id"]: w for w in drawn["witnesses"]}
    keys = [drawmod.witness_id(v) for _, v in witness_keys()]
    reveals = [(keys[i], bytes([0x40 + i]) * 32) for i in (0, 2)]
    assert all(by_key[k]["revealed"] for k, _ in reveals) and not by_key[keys[1]]["revealed"]
    del secrets
    seed = drawmod.derive_seed(
        bytes.fromhex(drawn["instance_sha256"]), bytes.fromhex(drawn["beacon_value"]), reveals
    )
    assert drawn["seed"] == seed.hex()
    inst = (await api.client.get(f"/draws/{d['id']}/instance")).content
    res = (await api.client.get(f"/draws/{d['id']}/result")).content
    assert json.loads(inst)["seed"] == seed.hex()
    assert lottery.run(inst) == res
    # lottery placements stored; PRV1/day has 2 seats
    result = json.loads(res)
    async with api.db() as s, s.begin():
        rows = list((await s.execute(sa.select(Placement))).scalars())
    lot = {p.application_number for p in rows if p.basis == "lottery" and p.round == "private"}
    assert lot == {n for n, a in result["assignments"].items() if a is not None}
    assert len([p for p in rows if p.school_code == "PRV1"]) == 2
    # 统筹: everyone else falls back to PUB1 (3 seats, oversubscribed -> a public roster)
    campaign = (await api.client.get(f"/campaigns/{api.campaign_id}")).json()
    assert campaign["phase"] == "frozen"
    placed_private = {p.application_number for p in rows if p.round == "private"}
    roster = (
        await api.client.get(f"/campaigns/{api.campaign_id}/rosters/{drawn['public_rosters'][0]}")
    ).json()
    assert {a["id"] for a in roster["applicants"]} == set(numbers) - placed_private
    # band rank as priority: claimants (even i) have priority 2 at PUB1
    prio = {a["id"]: a["priority"] for a in roster["applicants"]}
    for i, n in enumerate(numbers):
        if n in prio:
            assert prio[n] == ({"PUB1": 2} if i % 2 == 0 else {})

    pub = await ceremony_until_run(api, "public")
    r = await api.client.post(f"/draws/{pub['id']}/run", headers=api.h["city"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "drawn"
    campaign = (await api.client.get(f"/campaigns/{api.campaign_id}")).json()
    assert campaign["phase"] == "drawn"
    pres = json.loads((await api.client.get(f"/draws/{pub['id']}/result")).content)
    admitted = pres["schools"]["PUB1"]["admitted"]
    assert len(admitted) == 3
    # higher band first: every admitted claimant outranks every waitlisted non-claimant
    claimants = {n for i, n in enumerate(numbers) if i % 2 == 0}
    if any(n not in claimants for n in admitted):
        assert all(n not in claimants for n in pres["schools"]["PUB1"]["waitlist"])

    report = await make_bundle(api, tmp_path / "bundle", previous=early_cp)
    failed = [(c.name, c.detail) for c in report.checks if c.status != "passed"]
    assert report.verdict == "VALID", failed
    names = {c.name for c in report.checks}
    assert f"draw[{d['id']}].recompute" in names and f"draw[{pub['id']}].recompute" in names
    # the 双色球 numbers carry no signature: the passed check says what it did not verify
    cwl = next(c for c in report.checks if c.name == f"draw[{pub['id']}].beacon")
    assert "not their authenticity" in cwl.detail
    quicknet = next(c for c in report.checks if c.name == f"draw[{d['id']}].beacon")
    assert "authenticity" not in quicknet.detail


async def test_run_is_idempotent_and_failed_draws_are_not_rerolled(api: Api) -> None:
    await frozen_world(api)
    d = await ceremony_until_run(api, reveal=(0, 1))
    first = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    size = await log_size(api)
    again = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["admin"])
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert await log_size(api) == size
    # the beacon cannot be changed afterwards; the same evidence is a no-op
    r = await api.client.post(
        f"/draws/{d['id']}/beacon", json={"evidence": QUICKNET_EVIDENCE}, headers=api.h["city"]
    )
    assert r.status_code == 200


async def test_too_few_reveals_fails_the_draw(api: Api) -> None:
    await frozen_world(api)
    d = await ceremony_until_run(api, reveal=(1,))
    r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "draw_id"
    got = (await api.client.get(f"/draws/{d['id']}")).json()
    assert got["status"] == "failed" and got["seed"] is None
    r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    assert r.status_code == 409
    async with api.db() as s, s.begin():
        n = (
            await s.execute(
                sa.select(sa.func.count())
                .select_from(Placement)
                .where(Placement.basis == "lottery")
            )
        ).scalar_one()
    assert n == 0


async def test_twins_drawn_together_and_undersubscribed_public_round(api: Api) -> None:
    numbers = await frozen_world(api, families=3, twins=True)
    t1, t2 = numbers[-2:]
    d = await ceremony_until_run(api)
    inst = json.loads((await api.client.get(f"/draws/{d['id']}/instance")).content)
    groups = {a["id"]: a["group"] for a in inst["applicants"]}
    assert groups[t1] == groups[t2] == f"G-{t1}"
    r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    assert r.status_code == 200, r.text
    # all-or-none: the pair is admitted together or not at all
    res = json.loads((await api.client.get(f"/draws/{d['id']}/result")).content)
    assert res["assignments"][t1] == res["assignments"][t2]
    # 3 + 2 applicants want PRV1 (2 seats): at most 3 fall back to PUB1 (3 seats) -> no public
    # lottery, the campaign is drawn at once and every fallback is placed directly
    assert r.json()["public_rosters"] == []
    assert (await api.client.get(f"/campaigns/{api.campaign_id}")).json()["phase"] == "drawn"
    async with api.db() as s, s.begin():
        rows = list((await s.execute(sa.select(Placement))).scalars())
    placed = {p.application_number for p in rows}
    assert placed == set(numbers)
    assert {p.basis for p in rows if p.round == "public"} <= {"undersubscribed"}
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws",
        json=draw_request("public"),
        headers=api.h["city"],
    )
    assert r.status_code == 409  # the campaign is drawn: no public draw to open
