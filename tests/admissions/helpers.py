"""Test helpers: valid GB 11643 numbers, a small world (accounts, campaign, schools), requests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient
from stdnum.cn import ric

from admissions.accounts import service as accounts
from admissions.context import Context

PASSWORD = "correct horse battery"
OPEN_AT = datetime(2026, 5, 1, tzinfo=UTC)
CLOSE_AT = datetime(2026, 5, 10, tzinfo=UTC)
REVIEW_DEADLINE = datetime(2026, 5, 20, tzinfo=UTC)


def id_number(birth: str = "20200315", serial: int = 12, region: str = "320213") -> str:
    """A valid 18-character number: region, birth date, 3-digit serial (odd = male), check."""
    body = f"{region}{birth}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


CAMPAIGN = {
    "name": "无锡市2026年小学一年级招生",
    "year": 2026,
    "region": "wuxi",
    "stage": "primary",
    "open_at": OPEN_AT.isoformat(),
    "close_at": CLOSE_AT.isoformat(),
    "review_deadline": REVIEW_DEADLINE.isoformat(),
}

SCHOOLS = [
    {
        "code": "PUB1",
        "name": "梁溪实验小学",
        "district": "liangxi",
        "kind": "public",
        "plan": 40,
        "catchments": ["c1", "c2"],
        "bands": [
            {"code": "hukou_property", "label": "户籍+房产", "rank": 2},
            {"code": "hukou", "label": "户籍", "rank": 1},
        ],
    },
    {
        "code": "PRV1",
        "name": "民办外国语小学",
        "district": "liangxi",
        "kind": "private",
        "plan": 3,
        "reserved": [{"category": "staff", "seats": 1}],
        "pools": [{"code": "day", "name": "走读", "seats": 2}],
    },
    {
        "code": "PRV2",
        "name": "民办实验小学",
        "district": "binhu",
        "kind": "private",
        "plan": 10,
        "pools": [{"code": "day", "name": "走读", "seats": 10}],
    },
]


def application(serial: int = 12, birth: str = "20200315", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child": {"name": "张小明", "id_number": id_number(birth, serial)},
        "guardian": {"name": "张伟", "phone": "13800000000", "relation": "father"},
        "district": "liangxi",
        "facts": {
            "hukou_district": "liangxi",
            "catchment": "c1",
            "hukou_in_catchment": True,
            "property_in_catchment": True,
            "address": "梁溪区某路1号",
        },
        "choices": {
            "public": "PUB1",
            "private": [{"school": "PRV1", "pool": "day"}, {"school": "PRV2", "pool": "day"}],
        },
        "claims": [
            {"kind": "band", "school": "PUB1", "code": "hukou_property", "documents": ["房产证 A1"]}
        ],
    }
    body = copy.deepcopy(body)
    body.update(changes)
    return body


class Api:
    """A client with role tokens and shortcuts for the common flow."""

    def __init__(self, client: AsyncTestClient[Any], app: Any, clock: Any, db: Any) -> None:
        self.client = client
        self.db = db
        self.app = app
        self.clock = clock
        self.ctx: Context = app.state.ctx
        self.h: dict[str, dict[str, str]] = {}
        self.campaign_id = ""

    async def account(
        self, name: str, role: str, district: str | None = None, login: bool = False
    ) -> dict[str, str]:
        """Create an account; its token comes from /auth/login if ``login``, else it is minted
        directly with the app's JWT backend (same claims; saves a password check per account)."""
        async with self.db() as s:
            acct = await accounts.create_account(s, self.ctx, name, PASSWORD, role, district)
        if login:
            r = await self.client.post("/auth/login", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
        else:
            token = self.app.state.jwt_auth.create_token(
                identifier=str(acct.id), token_extras={"role": role, "district": district}
            )
        headers = {"Authorization": f"Bearer {token}"}
        self.h[name] = headers
        return headers

    async def setup_world(self, open_: bool = True) -> None:
        await self.account("admin", "admin", login=True)
        await self.account("city", "officer")
        await self.account("lx", "officer", "liangxi")
        await self.account("bh", "officer", "binhu")
        await self.account("p1", "parent")
        await self.account("p2", "parent")
        await self.account("wit", "witness")
        await self.account("nota", "notary")
        r = await self.client.post("/campaigns", json=CAMPAIGN, headers=self.h["admin"])
        assert r.status_code == 201, r.text
        self.campaign_id = r.json()["id"]
        for s in SCHOOLS:
            r = await self.client.post(
                f"/campaigns/{self.campaign_id}/schools", json=s, headers=self.h["city"]
            )
            assert r.status_code == 201, r.text
        if open_:
            await self.open()

    async def open(self) -> None:
        self.clock.set(OPEN_AT)
        r = await self.phase("open")
        assert r.status_code == 200, r.text

    async def phase(self, to: str, who: str = "city") -> Any:
        return await self.client.post(
            f"/campaigns/{self.campaign_id}/phase", json={"to": to}, headers=self.h[who]
        )

    async def register(self, body: dict[str, Any], who: str = "p1") -> Any:
        return await self.client.post(
            f"/campaigns/{self.campaign_id}/applications", json=body, headers=self.h[who]
        )

    async def review(
        self, number: str, decision: str = "eligible", claims: int = 1, who: str = "city"
    ) -> Any:
        body = {
            "decision": decision,
            "reason": "材料齐全" if decision == "eligible" else "年龄不符",
            "claims": [{"index": i, "decision": "eligible", "reason": "ok"} for i in range(claims)],
        }
        return await self.client.post(
            f"/applications/{number}/review", json=body, headers=self.h[who]
        )

    async def counts(self) -> tuple[int, int, int]:
        """(applications, log size, active applications) straight from the database."""
        import sqlalchemy as sa

        from admissions.applications.models import Application
        from admissions.auditlog.models import LogState

        async with self.db() as s, s.begin():
            n = (await s.execute(sa.select(sa.func.count(Application.id)))).scalar_one()
            active = (
                await s.execute(
                    sa.select(sa.func.count(Application.id)).where(Application.status == "active")
                )
            ).scalar_one()
            size = (await s.execute(sa.select(LogState.size))).scalar_one()
        return n, size, active
