"""admissions.applications.front.RegistrationFront (what ``paiwei serve`` runs): the plain
success case of ``POST /campaigns/{id}/applications`` is served by the front; every other request
gets exactly what the Litestar app alone answers (status, content type, body)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from admissions.app import create_app
from admissions.applications import service
from admissions.applications.front import RegistrationFront
from tests.admissions.helpers import CLOSE_AT, Api, application

pytestmark = pytest.mark.anyio


@pytest.fixture
async def front(world: Api, settings: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    """A second worker's app, behind the front (same database, same clock)."""
    async with AsyncTestClient(app=RegistrationFront(create_app(settings, world.clock))) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture
def litestar_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts registrations that reached the Litestar route handler."""
    calls: list[int] = []
    real = service.register_new_session

    async def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "register_new_session", spy)
    return calls


def _same(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers["content-type"] == b.headers["content-type"]
    assert a.json() == b.json()


async def test_success_is_served_by_the_front_on_postgresql(
    world: Api, front: AsyncTestClient[Any], litestar_calls: list[int], backend: str
) -> None:
    url = f"/campaigns/{world.campaign_id}/applications"
    h = world.h
    r = await front.post(url, json=application(serial=800), headers=h["p1"])  # cold cache
    assert r.status_code == 201 and litestar_calls == [1]
    r = await front.post(url, json=application(serial=801), headers=h["p1"])
    assert r.status_code == 201, r.text
    assert litestar_calls == ([1] if backend == "postgresql" else [1, 1])
    via_front = r.json()
    plain = await world.register(application(serial=802))
    assert plain.status_code == 201
    assert r.headers["content-type"] == plain.headers["content-type"] == "application/json"
    assert via_front.keys() == plain.json().keys()
    assert via_front["receipt"].keys() == plain.json()["receipt"].keys()
    raw = (await world.client.get("/log/entries?limit=1000")).json()["entries"]
    assert raw[via_front["receipt"]["log_seq"]]["entry"] == via_front["receipt"]["log_entry"]
    got = await world.client.get(f"/applications/{via_front['number']}", headers=h["p1"])
    assert got.status_code == 200
    for key in ("number", "campaign", "status", "district", "group", "choices", "claims"):
        assert got.json()[key] == via_front[key]


async def test_everything_else_is_litestars_answer(
    world: Api, front: AsyncTestClient[Any], litestar_calls: list[int]
) -> None:
    url = f"/campaigns/{world.campaign_id}/applications"
    h = world.h
    assert (await world.register(application(serial=810))).status_code == 201  # warm caches
    assert (await front.post(url, json=application(serial=811), headers=h["p1"])).status_code == 201
    bad_id = application(serial=812)
    bad_id["child"]["id_number"] = "110101199003077777"
    unknown = application(serial=813, extra="x")
    school = application(serial=814)
    school["choices"]["private"] = [{"school": "NOPE", "pool": "day"}]
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", url, {"json": application(serial=815)}),  # no token
        ("POST", url, {"json": application(serial=815), "headers": h["city"]}),  # not a parent
        ("POST", url, {"json": application(serial=815), "headers": {"Authorization": "Bearer x"}}),
        ("POST", url, {"content": b"{not json", "headers": h["p1"]}),
        ("POST", url, {"json": unknown, "headers": h["p1"]}),
        ("POST", url, {"json": bad_id, "headers": h["p1"]}),
        ("POST", url, {"json": school, "headers": h["p1"]}),
        ("POST", url, {"json": application(serial=810), "headers": h["p2"]}),  # duplicate
        (
            "POST",
            "/campaigns/nope/applications",
            {"json": application(serial=816), "headers": h["p1"]},
        ),
        ("GET", url, {"headers": h["p1"]}),
        ("POST", url, {"json": application(serial=820, pad="x" * 70_000), "headers": h["p1"]}),
        ("POST", url + "/", {"json": bad_id, "headers": h["p1"]}),
    ]
    for method, u, kw in cases:
        a = await front.request(method, u, **kw)
        b = await world.client.request(method, u, **kw)
        _same(a, b)
    # lenient input Litestar accepts (a number as a string): the front hands it over
    lenient = application(serial=817)
    lenient["facts"]["hukou_in_catchment"] = "true"
    before = len(litestar_calls)
    r = await front.post(url, json=lenient, headers=h["p1"])
    other = {**lenient, "child": application(serial=818)["child"]}
    b = await world.client.post(url, json=other, headers=h["p1"])
    assert r.status_code == b.status_code
    assert len(litestar_calls) == before + 2
    world.clock.set(CLOSE_AT)
    body = application(serial=819)
    _same(
        await front.post(url, json=body, headers=h["p1"]),
        await world.client.post(url, json=body, headers=h["p1"]),
    )


async def test_handed_over_body_is_replayed_exactly(app: Any) -> None:
    """A body over the front's limit, sent in chunks, reaches the app byte for byte with the
    rest of the stream after it."""
    front = RegistrationFront(app)
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        while True:
            m = await receive()
            seen.append(m)
            if not m.get("more_body"):
                break

    front.app = inner  # type: ignore[assignment]
    chunks = [b"a" * 40_000, b"b" * 40_000, b"c" * 10]
    stream = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> Any:
        return stream.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/campaigns/c1/applications", "headers": []}
    await front(scope, receive, None)
    assert b"".join(m["body"] for m in seen) == b"".join(chunks)
    assert [m["more_body"] for m in seen] == [True, False]
