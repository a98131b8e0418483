"""Vacancies after results: a decline or a missed deadline frees a seat, which is offered down the
published waitlist in order; acceptances release the family's previous seat, which moves on."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from admissions.campaigns.models import Placement
from admissions.ceremony.models import Offer
from admissions.ceremony.service import seat_of
from tests.admissions.ceremony_world import CONFIRM_DEADLINE, ceremony_until_run, frozen_world
from tests.admissions.helpers import Api
from tests.admissions.test_ceremony_rules import log_kinds, log_size

pytestmark = pytest.mark.anyio


async def drawn_world(api: Api) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    numbers = await frozen_world(api, families=12)
    owner = {n: "p1" if i % 2 == 0 else "p2" for i, n in enumerate(numbers)}
    results: dict[str, Any] = {}
    for round_ in ("private", "public"):
        d = await ceremony_until_run(api, round_)
        r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
        assert r.status_code == 200, r.text
        results[round_] = json.loads((await api.client.get(f"/draws/{d['id']}/result")).content)
    return numbers, owner, results


async def seats_held(api: Api) -> dict[str, int]:
    """Seats taken per lottery school id: active placements plus outstanding offers."""
    async with api.db() as s, s.begin():
        held: dict[str, int] = {}
        for p in (await s.execute(sa.select(Placement))).scalars():
            if p.status in ("placed", "confirmed"):
                held[seat_of(p)] = held.get(seat_of(p), 0) + 1
        for o in (await s.execute(sa.select(Offer))).scalars():
            if o.status == "offered":
                held[o.seat] = held.get(o.seat, 0) + 1
    return held


async def test_decline_offer_accept_release_and_lapse(api: Api) -> None:
    _, owner, results = await drawn_world(api)
    prv1 = results["private"]["schools"]["PRV1/day"]
    pub1 = results["public"]["schools"]["PUB1"]
    assert len(prv1["admitted"]) == 2 and prv1["waitlist"]
    capacity = {"PRV1/day": 2, "PUB1": 3}
    before = await seats_held(api)
    assert before["PRV1/day"] == 2 and before["PUB1"] == 3

    # bad input and strangers change nothing
    decliner = prv1["admitted"][0]
    size = await log_size(api)
    other = "p2" if owner[decliner] == "p1" else "p1"
    r = await api.client.post(
        f"/applications/{decliner}/placement", json={"decision": "maybe"}, headers=api.h["p1"]
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "decision"
    r = await api.client.post(
        f"/applications/{decliner}/placement", json={"decision": "decline"}, headers=api.h[other]
    )
    assert r.status_code == 404
    r = await api.client.post(
        f"/applications/{decliner}/offer",
        json={"decision": "accept"},
        headers=api.h[owner[decliner]],
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "number"
    assert await log_size(api) == size

    # the other admitted family confirms; the first declines -> offer to waitlist[0]
    keeper = prv1["admitted"][1]
    r = await api.client.post(
        f"/applications/{keeper}/placement",
        json={"decision": "confirm"},
        headers=api.h[owner[keeper]],
    )
    assert r.status_code == 200 and r.json()["placements"][-1]["status"] == "confirmed"
    r = await api.client.post(
        f"/applications/{decliner}/placement",
        json={"decision": "decline"},
        headers=api.h[owner[decliner]],
    )
    assert r.status_code == 200, r.text
    assert r.json()["placements"][-1]["status"] == "declined"
    first = prv1["waitlist"][0]
    st = (await api.client.get(f"/applications/{first}/standing", headers=api.h["city"])).json()
    assert [(o["seat"], o["position"], o["status"]) for o in st["offers"]] == [
        ("PRV1/day", 0, "offered")
    ]
    previous = [p for p in st["placements"] if p["status"] in ("placed", "confirmed")]
    # accept: the new seat is confirmed and the previous one (if any) released and offered on
    r = await api.client.post(
        f"/applications/{first}/offer", json={"decision": "accept"}, headers=api.h[owner[first]]
    )
    assert r.status_code == 200, r.text
    st = r.json()
    now_held = [p for p in st["placements"] if p["status"] == "confirmed"]
    assert [(p["seat"], p["basis"]) for p in now_held] == [("PRV1/day", "waitlist")]
    if previous:
        assert [p["status"] for p in st["placements"] if p["seat"] == previous[0]["seat"]] == [
            "released"
        ]
        if previous[0]["seat"] == "PUB1":
            nxt = next(n for n in pub1["waitlist"])
            st2 = (
                await api.client.get(f"/applications/{nxt}/standing", headers=api.h["city"])
            ).json()
            assert st2["offers"] and st2["offers"][0]["seat"] == "PUB1"
    held = await seats_held(api)
    assert all(held.get(s, 0) <= c for s, c in capacity.items()), held

    # after the confirmation deadline, unconfirmed seats lapse and are offered down the lists
    api.clock.set(CONFIRM_DEADLINE)
    r = await api.client.post(f"/campaigns/{api.campaign_id}/vacancies", headers=api.h["city"])
    assert r.status_code == 200, r.text
    sweep = r.json()
    assert sweep["lapsed_placements"] >= 1
    held = await seats_held(api)
    assert all(held.get(s, 0) <= c for s, c in capacity.items()), held
    # offers at a seat go strictly down its waitlist
    async with api.db() as s, s.begin():
        offers = list((await s.execute(sa.select(Offer).order_by(Offer.id))).scalars())
    for seat in {o.seat for o in offers}:
        pos = [o.position for o in offers if o.seat == seat]
        assert pos == sorted(pos) and len(set(pos)) == len(pos)
    # unanswered offers lapse after offer_hours and move on
    outstanding = [o for o in offers if o.status == "offered"]
    if outstanding:
        api.clock.set(CONFIRM_DEADLINE + timedelta(hours=49))
        r = await api.client.post(f"/campaigns/{api.campaign_id}/vacancies", headers=api.h["city"])
        assert r.status_code == 200 and r.json()["lapsed_offers"] == len(outstanding)
        late = outstanding[0].application_number
        st = (await api.client.get(f"/applications/{late}/standing", headers=api.h["city"])).json()
        mine = {o["id"]: o["status"] for o in st["offers"]}
        assert mine[outstanding[0].id] == "lapsed"
        if "offered" not in mine.values():  # (a lapse forfeits that seat only)
            r = await api.client.post(
                f"/applications/{late}/offer",
                json={"decision": "accept"},
                headers=api.h[owner[late]],
            )
            assert r.status_code == 409
    kinds = await log_kinds(api)
    assert {"placement.confirm", "placement.decline", "offer.make", "offer.accept"} <= set(kinds)
    assert "placement.lapse" in kinds
    # a sweep with nothing new to do changes nothing
    size = await log_size(api)
    r = await api.client.post(f"/campaigns/{api.campaign_id}/vacancies", headers=api.h["city"])
    assert r.status_code == 200 and r.json()["offers"] == []
    assert await log_size(api) == size


async def test_decline_offer_moves_to_next(api: Api) -> None:
    _, owner, results = await drawn_world(api)
    prv1 = results["private"]["schools"]["PRV1/day"]
    d = prv1["admitted"][0]
    r = await api.client.post(
        f"/applications/{d}/placement", json={"decision": "decline"}, headers=api.h[owner[d]]
    )
    assert r.status_code == 200
    w0, w1 = prv1["waitlist"][:2]
    r = await api.client.post(
        f"/applications/{w0}/offer",
        json={"decision": "accept", "offer": 999999},
        headers=api.h[owner[w0]],
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "offer"
    oid = (await api.client.get(f"/applications/{w0}/standing", headers=api.h[owner[w0]])).json()[
        "offers"
    ][0]["id"]
    r = await api.client.post(
        f"/applications/{w0}/offer",
        json={"decision": "decline", "offer": oid},
        headers=api.h[owner[w0]],
    )
    assert r.status_code == 200 and r.json()["offers"][0]["status"] == "declined"
    st = (await api.client.get(f"/applications/{w1}/standing", headers=api.h[owner[w1]])).json()
    assert [(o["seat"], o["position"]) for o in st["offers"]] == [("PRV1/day", 1)]


async def test_accepting_an_offer_releases_the_previous_seat(api: Api) -> None:
    """Walk down PRV1's waitlist (families without a seat decline) until the offer reaches a
    family holding a seat; accepting releases that seat, which is offered on in turn."""
    _, owner, results = await drawn_world(api)
    prv1 = results["private"]["schools"]["PRV1/day"]
    d = prv1["admitted"][0]
    r = await api.client.post(
        f"/applications/{d}/placement", json={"decision": "decline"}, headers=api.h[owner[d]]
    )
    assert r.status_code == 200
    for pos, n in enumerate(prv1["waitlist"]):
        st = (await api.client.get(f"/applications/{n}/standing", headers=api.h[owner[n]])).json()
        assert [(o["position"], o["status"]) for o in st["offers"]] == [(pos, "offered")], st
        held = [p for p in st["placements"] if p["status"] in ("placed", "confirmed")]
        if held:
            break
        r = await api.client.post(
            f"/applications/{n}/offer", json={"decision": "decline"}, headers=api.h[owner[n]]
        )
        assert r.status_code == 200
    else:
        pytest.fail("nobody on PRV1's waitlist holds a seat")
    seat = held[0]["seat"]
    r = await api.client.post(
        f"/applications/{n}/offer", json={"decision": "accept"}, headers=api.h[owner[n]]
    )
    assert r.status_code == 200, r.text
    st = r.json()
    assert [p["status"] for p in st["placements"] if p["seat"] == seat] == ["released"]
    source = results["public" if "/" not in seat else "private"]["schools"][seat]
    entries = (await api.client.get("/log/entries?limit=1000")).json()["entries"]
    bodies = [json.loads(e["entry"]) for e in entries]
    accept = next(b for b in reversed(bodies) if b["kind"] == "offer.accept")
    assert accept["body"]["released"] == [seat]
    made = [b["body"] for b in bodies if b["kind"] == "offer.make" and b["body"]["seat"] == seat]
    waiting = [x for x in source["waitlist"] if x != n]
    if waiting:
        assert made and made[-1]["position"] == source["waitlist"].index(
            made[-1]["applications"][0]
        )
    capacity = {"PRV1/day": 2, "PRV2/day": 2, "PUB1": 3}
    held_now = await seats_held(api)
    assert all(held_now.get(s, 0) <= c for s, c in capacity.items()), held_now
