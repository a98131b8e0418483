"""A whole campaign through the HTTP API, up to a frozen roster; the log checks out."""

from __future__ import annotations

import hashlib
import json

import pytest

from audit.checkpoint import verify_checkpoint
from audit.merkle import leaf_hash, root
from audit.note import verifier_key_text
from audit.registration import record_digest
from tests.admissions.helpers import CLOSE_AT, REVIEW_DEADLINE, Api, application

pytestmark = pytest.mark.anyio


async def test_health_and_schema(api: Api) -> None:
    r = await api.client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await api.client.get("/schema/openapi.json")
    assert r.status_code == 200
    ops = {op["operationId"] for p in r.json()["paths"].values() for op in p.values()}
    assert {"register", "reviewApplication", "freezeCampaign", "login"} <= ops


async def test_campaign_end_to_end(world: Api) -> None:
    api = world
    r = await api.register(application(serial=11))
    assert r.status_code == 201, r.text
    a1 = r.json()
    receipt = a1["receipt"]
    entry = json.loads(receipt["log_entry"])
    assert entry["kind"] == "registration" and entry["seq"] == receipt["log_seq"]
    assert entry["body"]["record_sha256"] == receipt["record_sha256"]
    assert entry["body"]["choices"] == ["PUB1", "PRV1/day", "PRV2/day"]
    # no personal data in the log entry
    assert (
        "张小明" not in receipt["log_entry"]
        and application(serial=11)["child"]["id_number"] not in receipt["log_entry"]
    )
    # the family's record hash is reproducible from the decrypted record + salt
    async with api.db() as s, s.begin():
        from admissions.applications.service import load, open_record

        row = await load(s, a1["number"])
        env = open_record(api.ctx, row)
    assert (
        record_digest(env["record"], bytes.fromhex(receipt["salt"])).hex()
        == receipt["record_sha256"]
    )
    assert env["record"]["child"]["birth_date"] == "2020-03-15"
    assert env["record"]["child"]["sex"] == "male"

    # twins bundled (same birth date), second family, a staff-reserved claim
    r = await api.register(application(serial=21), who="p2")
    t1 = r.json()["number"]
    r = await api.register({**application(serial=23), "bundle_with": t1}, who="p2")
    assert r.status_code == 201, r.text
    assert r.json()["group"] == f"G-{t1}"
    staff = application(
        serial=31,
        claims=[{"kind": "reserved", "school": "PRV1", "code": "staff", "documents": ["在职证明"]}],
    )
    r = await api.register(staff, who="p1")
    assert r.status_code == 201, r.text
    a_staff = r.json()["number"]

    # edit, withdraw and apply again while open
    upd = {k: v for k, v in application(serial=11).items() if k not in ("child",)}
    upd["choices"] = {"public": "PUB1", "private": [{"school": "PRV1", "pool": "day"}]}
    r = await api.client.put(f"/applications/{a1['number']}", json=upd, headers=api.h["p1"])
    assert r.status_code == 200, r.text
    assert r.json()["receipt"]["record_sha256"] != receipt["record_sha256"]
    r = await api.register(application(serial=41))
    n41 = r.json()["number"]
    r = await api.client.post(f"/applications/{n41}/withdraw", headers=api.h["p1"])
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = await api.register(application(serial=41))
    assert r.status_code == 201, r.text
    n41b = r.json()["number"]
    assert n41b != n41

    # parents see only their own
    r = await api.client.get(f"/campaigns/{api.campaign_id}/applications", headers=api.h["p2"])
    assert r.json()["total"] == 2
    r = await api.client.get(f"/applications/{a1['number']}", headers=api.h["p2"])
    assert r.status_code == 404
    r = await api.client.get(f"/applications/{a1['number']}", headers=api.h["p1"])
    assert r.json()["personal"]["child_name"] == "张小明"
    assert "*" in r.json()["personal"]["id_number_masked"]

    # close, review (district officer binhu cannot review liangxi), appeal, resolve
    r = await api.phase("closed")
    assert r.status_code == 409  # before close_at
    api.clock.set(CLOSE_AT)
    assert (await api.phase("closed")).status_code == 200
    r = await api.review(a1["number"], who="bh")
    assert r.status_code == 403
    r = await api.review(a1["number"], "ineligible", who="lx")
    assert r.status_code == 200, r.text
    r = await api.client.post(
        f"/applications/{a1['number']}/appeal", json={"reason": "户口已迁入"}, headers=api.h["p1"]
    )
    assert r.status_code == 200 and r.json()["appeal_status"] == "pending"
    r = await api.client.post(
        f"/applications/{a1['number']}/appeal", json={"reason": "again"}, headers=api.h["p1"]
    )
    assert r.status_code == 409
    r = await api.phase("reviewed")
    assert r.status_code == 409  # pending reviews and appeal, before deadline
    for n, claims in ((a1["number"], 1), (t1, 1), (r2 := None, 0)):
        if n:
            assert (await api.review(n, claims=claims)).status_code == 200
    page = (
        await api.client.get(
            f"/campaigns/{api.campaign_id}/applications?review_status=pending&status=active",
            headers=api.h["city"],
        )
    ).json()
    for item in page["items"]:
        assert (await api.review(item["number"], claims=len(item["claims"]))).status_code == 200
    api.clock.set(REVIEW_DEADLINE)
    r = await api.client.post(
        f"/applications/{a1['number']}/appeal", json={"reason": "late"}, headers=api.h["p1"]
    )
    assert r.status_code == 409
    assert (await api.phase("reviewed")).status_code == 200
    del r2

    # freeze: PRV1 (2 day seats + 1 staff) is oversubscribed: a1, twins, n41b want it
    r = await api.client.post(f"/campaigns/{api.campaign_id}/freeze", headers=api.h["city"])
    assert r.status_code == 200, r.text
    fr = r.json()
    assert fr["campaign"]["phase"] == "frozen"
    assert fr["placed_without_lottery"] >= 1
    rosters = (await api.client.get(f"/campaigns/{api.campaign_id}/rosters")).json()
    assert len(rosters) == 1
    data = (
        await api.client.get(f"/campaigns/{api.campaign_id}/rosters/{rosters[0]['id']}")
    ).content
    assert hashlib.sha256(data).hexdigest() == rosters[0]["sha256"]
    doc = json.loads(data)
    ids = {a["id"] for a in doc["applicants"]}
    assert a_staff not in ids and a1["number"] in ids
    assert {s["id"] for s in doc["schools"]} >= {"PRV1/day"}
    # the roster is a lottery instance once the ceremony adds seed and policy
    import lottery
    from admissions.campaigns.freeze import instance_bytes

    inst = instance_bytes(data, bytes(32), "deferred-acceptance", "single", "all-or-none")
    result = json.loads(lottery.run(inst))
    assert set(result["assignments"]) == ids
    assert "张" not in data.decode()

    # the log: checkpoint signed, root over all stored entries, time non-decreasing
    cp = (await api.client.get("/log/checkpoint")).text
    vkey = verifier_key_text(api.ctx.settings.log_signing_key)
    checkpoint = verify_checkpoint(cp, [vkey])
    entries = (await api.client.get("/log/entries?limit=1000")).json()["entries"]
    assert checkpoint.size == len(entries) == entries[-1]["seq"] + 1
    assert checkpoint.root == root([leaf_hash(e["entry"].encode()) for e in entries])
    times = [json.loads(e["entry"])["time"] for e in entries]
    assert times == sorted(times)
    kinds = [json.loads(e["entry"])["kind"] for e in entries]
    assert kinds[0] == "campaign.create" and kinds[-1] == "roster.freeze"
    assert "registration.withdraw" in kinds and "review.appeal" in kinds
    # actions after freeze are refused
    assert (await api.register(application(serial=51))).status_code == 409
