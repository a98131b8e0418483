"""Bad input: every malformed body, wrong type, unknown field, bad ID number, out-of-window action
or forbidden transition gets a 4xx problem document naming the field and the reason, and leaves
the database (applications and log) exactly as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.admissions.helpers import CLOSE_AT, Api, application, id_number

pytestmark = pytest.mark.anyio


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def f(body: dict[str, Any]) -> dict[str, Any]:
        node = body
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value
        return body

    return f


def _del(path: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def f(body: dict[str, Any]) -> dict[str, Any]:
        node = body
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
        return body

    return f


PRIV = lambda *s: {"public": None, "private": [{"school": x, "pool": "day"} for x in s]}  # noqa: E731

CASES: list[tuple[str, Callable[[dict[str, Any]], Any], int, str]] = [
    ("unknown top-level field", _set("extra", 1), 400, "extra"),
    ("unknown nested field", _set("child.nickname", "x"), 400, "child.nickname"),
    ("missing child", _del("child"), 400, "child"),
    ("wrong type", _set("child.name", 123), 400, "child.name"),
    ("name with control char", _set("child.name", "张\x07明"), 400, "child.name"),
    ("empty name", _set("child.name", ""), 400, "child.name"),
    # Python's `$` also matches before a final newline: the patterns say `(?!\n)$`
    ("name with final newline", _set("child.name", "张明\n"), 400, "child.name"),
    ("phone with final newline", _set("guardian.phone", "13800000000\n"), 400, "guardian.phone"),
    (
        "school code with final newline",
        _set("choices", PRIV("PRV1\n")),
        400,
        "choices.private[0].school",
    ),
    ("bad phone", _set("guardian.phone", "call me"), 400, "guardian.phone"),
    ("bad relation", _set("guardian.relation", "uncle"), 400, "guardian.relation"),
    (
        "bad check digit",
        _set("child.id_number", id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")),
        422,
        "child.id_number",
    ),
    ("short id number", _set("child.id_number", "32021320200315"), 422, "child.id_number"),
    ("letters in id number", _set("child.id_number", "3202132020031A012X"), 422, "child.id_number"),
    (
        "impossible birth date",
        _set(
            "child.id_number",
            (lambda b: b + __import__("stdnum.cn.ric").cn.ric.calc_check_digit(b + "0"))(
                "32021320201332012"
            ),
        ),
        422,
        "child.id_number",
    ),
    (
        "unknown region code",
        _set("child.id_number", id_number(region="990000")),
        422,
        "child.id_number",
    ),
    ("too young", _set("child.id_number", id_number("20200901")), 422, "child.id_number"),
    ("too old", _set("child.id_number", id_number("20180831")), 422, "child.id_number"),
    ("unknown district", _set("district", "atlantis"), 422, "district"),
    ("no choices", _set("choices", {"public": None, "private": []}), 422, "choices"),
    ("too many private", _set("choices", PRIV("PRV1", "PRV2", "PRV3")), 422, "choices.private"),
    ("unknown school", _set("choices", PRIV("NOPE")), 422, "choices.private[0].school"),
    ("public as private", _set("choices", PRIV("PUB1")), 422, "choices.private[0].school"),
    ("school twice", _set("choices", PRIV("PRV2", "PRV2")), 422, "choices.private[1].school"),
    (
        "unknown pool",
        _set("choices", {"private": [{"school": "PRV1", "pool": "boarding"}]}),
        422,
        "choices.private[0].pool",
    ),
    ("private as public", _set("choices", {"public": "PRV1"}), 422, "choices.public"),
    ("outside catchment", _set("facts.catchment", "c9"), 422, "choices.public"),
    ("band at unchosen school", _set("claims.0.school", "PRV2"), 422, "claims[0].school"),
    ("unknown band", _set("claims.0.code", "vip"), 422, "claims[0].code"),
    ("claim without documents", _set("claims.0.documents", []), 400, "claims[0].documents"),
    ("unknown claim kind", _set("claims.0.kind", "bribe"), 400, "claims[0].kind"),
    ("bundle with unknown", _set("bundle_with", "0000-0000-0000"), 422, "bundle_with"),
    ("body is a list", lambda b: [b], 400, "body"),
]


@pytest.mark.parametrize(("label", "mutate", "status", "field"), CASES, ids=[c[0] for c in CASES])
async def test_bad_registration(
    world: Api, label: str, mutate: Any, status: int, field: str
) -> None:
    api = world
    before = await api.counts()
    r = await api.register(mutate(application()))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == status
    assert problem["errors"][0]["field"] == field, problem
    assert problem["errors"][0]["reason"]
    assert id_number() not in r.text  # never echoes the ID number
    assert await api.counts() == before


async def test_malformed_json(world: Api) -> None:
    before = await world.counts()
    r = await world.client.post(
        f"/campaigns/{world.campaign_id}/applications",
        content=b'{"child": ',
        headers={**world.h["p1"], "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
    assert await world.counts() == before


async def test_duplicate_child_is_409(world: Api) -> None:
    assert (await world.register(application())).status_code == 201
    before = await world.counts()
    r = await world.register(application(), who="p2")
    assert r.status_code == 409
    assert r.json()["errors"][0] == {
        "field": "child.id_number",
        "reason": "already has an active application in this campaign",
    }
    assert await world.counts() == before


async def test_concurrent_duplicates_give_one_application(world: Api) -> None:
    before = await world.counts()
    rs = await asyncio.gather(
        *(world.register(application(serial=77), who=w) for w in ("p1", "p2", "p1", "p2"))
    )
    codes = sorted(r.status_code for r in rs)
    assert codes == [201, 409, 409, 409], [r.text for r in rs]
    n, size, active = await world.counts()
    assert (n, size, active) == (before[0] + 1, before[1] + 1, before[2] + 1)


async def test_out_of_window_and_transitions(api: Api) -> None:
    await api.setup_world(open_=False)
    before = await api.counts()
    assert (await api.register(application())).status_code == 409  # draft
    r = await api.phase("open")
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "to"  # before open_at
    assert (await api.phase("reviewed")).status_code == 409  # skipping phases
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/phase", json={"to": "frozen"}, headers=api.h["city"]
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "to"
    assert (
        await api.client.post(f"/campaigns/{api.campaign_id}/freeze", headers=api.h["city"])
    ).status_code == 409
    assert await api.counts() == before
    await api.open()
    # district officers cannot move the campaign
    assert (await api.phase("closed", who="lx")).status_code == 403
    api.clock.set(CLOSE_AT)
    r = await api.register(application())
    assert r.status_code == 409 and r.json()["type"].endswith("wrong-phase")
    assert await api.counts() == (before[0], before[1] + 1, before[2])  # only the open phase entry


async def test_bad_staff_input(world: Api) -> None:
    api = world
    before = await api.counts()
    body = {
        "code": "X",
        "name": "x",
        "district": "liangxi",
        "kind": "private",
        "plan": 4,
        "pools": [{"code": "d", "name": "d", "seats": 4}],
    }
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/schools", json=body, headers=api.h["city"]
    )
    assert r.status_code == 409  # schools are fixed once open
    from tests.admissions.helpers import CAMPAIGN

    r = await api.client.post(
        "/campaigns", json={**CAMPAIGN, "close_at": CAMPAIGN["open_at"]}, headers=api.h["admin"]
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "close_at"
    r = await api.client.post(
        "/campaigns", json={**CAMPAIGN, "open_at": "2026-05-01T00:00:00"}, headers=api.h["admin"]
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "open_at"
    r = await api.client.get(f"/campaigns/{api.campaign_id}/schools?limit=0")
    assert r.status_code == 400 and "limit" in r.json()["errors"][0]["field"]
    r = await api.client.get(f"/campaigns/{api.campaign_id}/schools?limit=abc")
    assert r.status_code == 400
    r = await api.client.get("/campaigns/nope/schools")
    assert r.status_code == 404
    r = await api.client.post(
        "/applications/nope/review",
        json={"decision": "eligible", "reason": "x"},
        headers=api.h["city"],
    )
    assert r.status_code == 404
    assert await api.counts() == before


async def test_school_plan_must_add_up(api: Api) -> None:
    await api.setup_world(open_=False)
    before = await api.counts()
    body = {
        "code": "X",
        "name": "x",
        "district": "liangxi",
        "kind": "private",
        "plan": 5,
        "reserved": [{"category": "staff", "seats": 2}],
        "pools": [{"code": "d", "name": "d", "seats": 4}],
    }
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/schools", json=body, headers=api.h["city"]
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "plan"
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/schools",
        json={**body, "district": "binhu", "plan": 6},
        headers=api.h["lx"],
    )
    assert r.status_code == 403
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/schools",
        json={**body, "code": "PRV1", "plan": 6},
        headers=api.h["city"],
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "code"
    assert await api.counts() == before


async def test_review_needs_every_claim(world: Api) -> None:
    api = world
    n = (await api.register(application())).json()["number"]
    api.clock.set(CLOSE_AT)
    assert (await api.phase("closed")).status_code == 200
    before = await api.counts()
    r = await api.review(n, claims=0)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "claims"
    r = await api.client.post(
        f"/applications/{n}/review",
        json={"decision": "maybe", "reason": "x", "claims": []},
        headers=api.h["city"],
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "decision"
    r = await api.client.post(
        f"/applications/{n}/appeal", json={"reason": "x"}, headers=api.h["p1"]
    )
    assert r.status_code == 409  # nothing decided yet
    assert await api.counts() == before
