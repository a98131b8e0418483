"""Every role x route pair. The routes come from the app itself, so a new route without an entry
in ACCESS fails here; each route is called as anonymous and as every role."""

from __future__ import annotations

from typing import Any

import pytest

from admissions.app import create_app
from admissions.settings import Settings
from tests.admissions.helpers import Api, application

pytestmark = pytest.mark.anyio

ROLES = ("parent", "officer", "witness", "notary", "admin")
PUBLIC = frozenset({"anonymous", *ROLES})
STAFF = frozenset({"officer", "admin"})

ACCESS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/ping"): PUBLIC,
    ("POST", "/accounts/signup"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,
    ("GET", "/me"): frozenset(ROLES),
    ("POST", "/accounts"): frozenset({"admin"}),
    ("GET", "/campaigns"): PUBLIC,
    ("POST", "/campaigns"): STAFF,
    ("GET", "/campaigns/{campaign_id:str}"): PUBLIC,
    ("POST", "/campaigns/{campaign_id:str}/phase"): STAFF,
    ("POST", "/campaigns/{campaign_id:str}/freeze"): STAFF,
    ("GET", "/campaigns/{campaign_id:str}/rosters"): PUBLIC,
    ("GET", "/campaigns/{campaign_id:str}/rosters/{roster_id:str}"): PUBLIC,
    ("GET", "/campaigns/{campaign_id:str}/schools"): PUBLIC,
    ("GET", "/campaigns/{campaign_id:str}/schools/{code:str}"): PUBLIC,
    ("POST", "/campaigns/{campaign_id:str}/schools"): STAFF,
    ("POST", "/campaigns/{campaign_id:str}/applications"): frozenset({"parent"}),
    ("GET", "/campaigns/{campaign_id:str}/applications"): frozenset({"parent", "officer", "admin"}),
    ("GET", "/applications/{number:str}"): frozenset({"parent", "officer", "admin"}),
    ("PUT", "/applications/{number:str}"): frozenset({"parent"}),
    ("POST", "/applications/{number:str}/withdraw"): frozenset({"parent"}),
    ("POST", "/applications/{number:str}/review"): STAFF,
    ("POST", "/applications/{number:str}/appeal"): frozenset({"parent"}),
    ("GET", "/log/checkpoint"): PUBLIC,
    ("GET", "/log/entries"): PUBLIC,
    # ceremony
    ("POST", "/campaigns/{campaign_id:str}/draws"): STAFF,
    ("GET", "/campaigns/{campaign_id:str}/draws"): PUBLIC,
    ("POST", "/campaigns/{campaign_id:str}/vacancies"): STAFF,
    ("GET", "/draws/{draw_id:str}"): PUBLIC,
    ("GET", "/draws/{draw_id:str}/instance"): PUBLIC,
    ("GET", "/draws/{draw_id:str}/result"): PUBLIC,
    ("POST", "/draws/{draw_id:str}/commit"): frozenset({"witness", "notary"}),
    ("POST", "/draws/{draw_id:str}/reveal"): frozenset({"witness", "notary"}),
    ("POST", "/draws/{draw_id:str}/beacon"): STAFF,
    ("POST", "/draws/{draw_id:str}/run"): STAFF,
    ("GET", "/applications/{number:str}/standing"): frozenset({"parent", "officer", "admin"}),
    ("POST", "/applications/{number:str}/placement"): frozenset({"parent"}),
    ("POST", "/applications/{number:str}/offer"): frozenset({"parent"}),
    ("POST", "/campaigns/{campaign_id:str}/publish"): STAFF,
    ("GET", "/campaigns/{campaign_id:str}/results"): PUBLIC,
    ("GET", "/campaigns/{campaign_id:str}/results/{code:str}"): PUBLIC,
    ("POST", "/campaigns/{campaign_id:str}/results/lookup"): PUBLIC,
    ("GET", "/campaigns/{campaign_id:str}/fairness"): PUBLIC,
    ("GET", "/campaigns/{campaign_id:str}/publication/checkpoint"): PUBLIC,
    ("POST", "/campaigns/{campaign_id:str}/publication/cosignatures"): frozenset(
        {"witness", "notary"}
    ),
    ("GET", "/campaigns/{campaign_id:str}/bundle"): PUBLIC,
    ("GET", "/applications/{number:str}/receipt"): frozenset({"parent", "officer", "admin"}),
}


def _routes() -> list[tuple[str, str, Any]]:
    settings = Settings.for_tests("sqlite+aiosqlite:///:memory:")
    app = create_app(settings)
    out = []
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue
        for handler in route.route_handlers:  # type: ignore[attr-defined]
            for method in handler.http_methods:
                if method != "OPTIONS":
                    out.append((method, route.path, handler))
    return sorted(out, key=lambda r: (r[1], r[0]))


ROUTES = _routes()


def _declared(handler: Any) -> frozenset[str]:
    if handler.opt.get("exclude_from_auth"):
        assert not handler.guards, "public handlers carry no guards"
        return PUBLIC
    roles = [g.roles for g in handler.guards if hasattr(g, "roles")]
    assert len(roles) == 1, "every non-public handler carries exactly one allow(...) guard"
    return frozenset(roles[0])


@pytest.mark.parametrize(
    ("method", "path", "handler"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
async def test_role_route(world: Api, method: str, path: str, handler: Any) -> None:
    key = (method, path)
    assert key in ACCESS, f"route {method} {path} has no entry in the role x route table"
    assert _declared(handler) == ACCESS[key], f"{method} {path}: guard differs from the table"
    api = world
    r = await api.register(application(serial=11))
    number = r.json()["number"]
    url = (
        path.replace("{campaign_id:str}", api.campaign_id)
        .replace("{number:str}", number)
        .replace("{code:str}", "PUB1")
        .replace("{roster_id:str}", "none")
        .replace("{draw_id:str}", f"{api.campaign_id}-private")
    )
    users = {
        "parent": "p1",
        "officer": "city",
        "witness": "wit",
        "notary": "nota",
        "admin": "admin",
    }
    for who in ("anonymous", *ROLES):
        headers = {} if who == "anonymous" else api.h[users[who]]
        resp = await api.client.request(
            method, url, headers=headers, json={} if method in ("POST", "PUT") else None
        )
        allowed = who in ACCESS[key]
        if allowed:
            assert resp.status_code not in (401, 403), (
                f"{who} {method} {path}: {resp.status_code} {resp.text}"
            )
            assert resp.status_code < 500, f"{who} {method} {path}: {resp.text}"
        else:
            want = 401 if who == "anonymous" else 403
            assert resp.status_code == want, f"{who} {method} {path}: {resp.status_code}"
            assert resp.headers["content-type"].startswith("application/problem+json")


async def test_bad_token_is_401(world: Api) -> None:
    r = await world.client.get("/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    forged = world.h["p1"]["Authorization"][:-4] + "AAAA"
    r = await world.client.get("/me", headers={"Authorization": forged})
    assert r.status_code == 401
