"""Ceremony rules: deadlines and phases (409), bad input (400/422 naming the field), and that a
refused request changes nothing (log size and draw state unchanged)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit import draw as drawmod
from tests.admissions.ceremony_world import (
    AFTER_BEACON,
    COMMIT_DEADLINE,
    QUICKNET_EVIDENCE,
    REVEAL_DEADLINE,
    draw_request,
    frozen_world,
    notes,
    witness_keys,
)
from tests.admissions.helpers import Api

pytestmark = pytest.mark.anyio


async def log_size(api: Api) -> int:
    """The size line of the signed checkpoint."""
    return int((await api.client.get("/log/checkpoint")).text.split("\n")[1])


async def log_kinds(api: Api) -> list[str]:
    entries = (await api.client.get("/log/entries?limit=1000")).json()["entries"]
    return [json.loads(e["entry"])["kind"] for e in entries]


async def expect(
    api: Api, r: Any, status: int, field: str | None = None, size: int | None = None
) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    if field is not None:
        assert any(e["field"] == field and e["reason"] for e in body["errors"]), body
    if size is not None:
        assert await log_size(api) == size


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"mechanism": "boston"}, 400, "mechanism"),
        ({"colour": "red"}, 400, "colour"),
        ({"min_reveals": 0}, 400, "min_reveals"),
        ({"min_reveals": 4}, 422, "min_reveals"),
        ({"witnesses": []}, 400, "witnesses"),
        ({"beacon": {"source": "drand-quicknet"}}, 422, None),
        ({"beacon": {"source": "nist", "round": 5}}, 422, None),
        ({"beacon": {"source": "drand-quicknet", "round": 100}}, 422, "beacon"),
        (
            {"beacon": {"source": "cwl", "game": "双色球", "issue": "2026088"}},
            422,
            "beacon.draw_date",
        ),
        ({"commit_deadline": "2026-01-01T00:00:00+00:00"}, 422, "commit_deadline"),
        ({"reveal_deadline": "2026-05-30T00:00:00+00:00"}, 422, "reveal_deadline"),
        ({"reveal_deadline": "2026-06-10T00:00:00"}, 400, "reveal_deadline"),
        ({"confirm_deadline": "2026-06-05T00:00:00+00:00"}, 422, "confirm_deadline"),
        ({"witnesses": [{"account": "w0", "vkey": "not a key"}]}, 422, "witnesses[0].vkey"),
        ({"witnesses": [{"account": "nobody", "vkey": witness_keys()[0][1]}]}, 422, None),
        ({"witnesses": [{"account": "p1", "vkey": witness_keys()[0][1]}]}, 422, None),
        (
            {
                "witnesses": [
                    {"account": "w0", "vkey": witness_keys()[0][1]},
                    {"account": "w1", "vkey": witness_keys()[0][1]},
                ]
            },
            422,
            "witnesses",
        ),
        ({"round": "public"}, 409, "round"),
    ],
)
async def test_open_bad_input_changes_nothing(
    api: Api, changes: dict[str, Any], status: int, field: str | None
) -> None:
    await frozen_world(api, families=4)
    size = await log_size(api)
    body = draw_request(**changes)
    if "witnesses" in changes and changes["witnesses"] and "account" in changes["witnesses"][0]:
        body["min_reveals"] = 1
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws", json=body, headers=api.h["city"]
    )
    await expect(api, r, status, field, size)
    if field is None:
        errors = r.json()["errors"]
        assert errors and errors[0]["field"].startswith(("beacon", "witnesses")), errors
    assert (await api.client.get(f"/campaigns/{api.campaign_id}/draws")).json() == []


async def test_open_needs_frozen_campaign_and_once(api: Api) -> None:
    await frozen_world(api, families=4)
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws", json=draw_request(), headers=api.h["city"]
    )
    assert r.status_code == 201, r.text
    size = await log_size(api)
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws", json=draw_request(), headers=api.h["city"]
    )
    await expect(api, r, 409, "round", size)
    r = await api.client.post("/campaigns/nope/draws", json=draw_request(), headers=api.h["city"])
    await expect(api, r, 404, "campaign_id", size)


async def test_witness_steps_deadlines_and_checks(api: Api) -> None:
    await frozen_world(api, families=4)
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws", json=draw_request(), headers=api.h["city"]
    )
    d = r.json()
    did, roster = d["id"], d["instance_sha256"]
    made = [notes(did, roster, i) for i in range(3)]
    size = await log_size(api)
    url = f"/draws/{did}"
    # someone else's note, a non-witness account, another draw or roster, malformed notes
    r = await api.client.post(f"{url}/commit", json={"note": made[1][0]}, headers=api.h["w0"])
    await expect(api, r, 422, "note", size)
    r = await api.client.post(f"{url}/commit", json={"note": made[0][0]}, headers=api.h["nota"])
    await expect(api, r, 403, "draw_id", size)
    skey = witness_keys()[0][0]
    other = drawmod.commit_note("other-draw", bytes.fromhex(roster), bytes(32), skey)
    r = await api.client.post(f"{url}/commit", json={"note": other}, headers=api.h["w0"])
    await expect(api, r, 422, "note", size)
    wrong_roster = drawmod.commit_note(did, bytes(32), bytes(32), skey)
    r = await api.client.post(f"{url}/commit", json={"note": wrong_roster}, headers=api.h["w0"])
    await expect(api, r, 422, "note", size)
    r = await api.client.post(f"{url}/commit", json={"note": "garbage"}, headers=api.h["w0"])
    await expect(api, r, 422, "note", size)
    r = await api.client.post(f"{url}/commit", json={"note": 5}, headers=api.h["w0"])
    await expect(api, r, 400, "note", size)
    # a reveal before the commit phase is over
    r = await api.client.post(f"{url}/commit", json={"note": made[0][0]}, headers=api.h["w0"])
    assert r.status_code == 200 and r.json()["committed"]
    size += 1
    r = await api.client.post(f"{url}/commit", json={"note": made[0][0]}, headers=api.h["w0"])
    assert r.status_code == 200 and await log_size(api) == size  # a repeat is a no-op
    r = await api.client.post(f"{url}/reveal", json={"note": made[0][1]}, headers=api.h["w0"])
    await expect(api, r, 409, "note", size)
    r = await api.client.post(f"{url}/commit", json={"note": made[1][0]}, headers=api.h["w1"])
    assert r.status_code == 200
    size += 1
    # the beacon is refused while reveals are running
    r = await api.client.post(
        f"{url}/beacon", json={"evidence": QUICKNET_EVIDENCE}, headers=api.h["city"]
    )
    await expect(api, r, 409, "evidence", size)
    # commit deadline: w2 is late; reveals open
    api.clock.set(COMMIT_DEADLINE)
    r = await api.client.post(f"{url}/commit", json={"note": made[2][0]}, headers=api.h["w2"])
    await expect(api, r, 409, "note", size)
    r = await api.client.post(f"{url}/reveal", json={"note": made[2][1]}, headers=api.h["w2"])
    await expect(api, r, 409, "note", size)  # never committed
    # a reveal whose secret does not open the commitment
    bad = drawmod.reveal_note(did, bytes.fromhex(roster), bytes(32), skey)
    r = await api.client.post(f"{url}/reveal", json={"note": bad}, headers=api.h["w0"])
    await expect(api, r, 422, "note", size)
    r = await api.client.post(f"{url}/reveal", json={"note": made[0][1]}, headers=api.h["w0"])
    assert r.status_code == 200 and r.json()["revealed"]
    size += 1
    # reveal deadline: w1 is late
    api.clock.set(REVEAL_DEADLINE)
    r = await api.client.post(f"{url}/reveal", json={"note": made[1][1]}, headers=api.h["w1"])
    await expect(api, r, 409, "note", size)
    # the quicknet round is not out yet (2026-07-23)
    r = await api.client.post(
        f"{url}/beacon", json={"evidence": QUICKNET_EVIDENCE}, headers=api.h["city"]
    )
    await expect(api, r, 409, "evidence", size)
    api.clock.set(AFTER_BEACON)
    # another round, a flipped signature, an unknown field
    wrong = {**QUICKNET_EVIDENCE, "round": QUICKNET_EVIDENCE["round"] + 1}
    r = await api.client.post(f"{url}/beacon", json={"evidence": wrong}, headers=api.h["city"])
    await expect(api, r, 422, "evidence.round", size)
    sig = str(QUICKNET_EVIDENCE["signature"])
    flipped = {**QUICKNET_EVIDENCE, "signature": sig[:-1] + ("0" if sig[-1] != "0" else "1")}
    r = await api.client.post(f"{url}/beacon", json={"evidence": flipped}, headers=api.h["city"])
    await expect(api, r, 422, "evidence.signature", size)
    r = await api.client.post(f"{url}/run", headers=api.h["city"])
    await expect(api, r, 409, "draw_id", size)  # no beacon yet
    r = await api.client.post(
        f"{url}/beacon", json={"evidence": QUICKNET_EVIDENCE}, headers=api.h["city"]
    )
    assert r.status_code == 200, r.text
    # min_reveals 2, one valid reveal: the draw fails, visibly, and is not re-rolled
    r = await api.client.post(f"{url}/run", headers=api.h["city"])
    await expect(api, r, 409, "draw_id")
    kinds = await log_kinds(api)
    assert kinds[-1] == "ceremony.failed" and "draw.seed" not in kinds


async def test_district_officer_cannot_run_ceremony(api: Api) -> None:
    await frozen_world(api, families=3)
    await api.account("lx", "officer", "liangxi")
    size = await log_size(api)
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws", json=draw_request(), headers=api.h["lx"]
    )
    await expect(api, r, 403, None, size)
