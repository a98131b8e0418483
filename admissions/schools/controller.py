from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from admissions.accounts.guards import allow
from admissions.deps import DB, Actor, Ctx, Limit, Offset
from admissions.schemas import Page
from admissions.schools import service
from admissions.schools.schemas import SchoolIn, SchoolOut


class SchoolController(Controller):
    path = "/campaigns/{campaign_id:str}/schools"
    tags = ("schools",)

    @get("/", operation_id="listSchools", exclude_from_auth=True)
    async def list_schools(
        self, campaign_id: FromPath[str], session: DB, limit: Limit = 50, offset: Offset = 0
    ) -> Page[SchoolOut]:
        return await service.list_(session, campaign_id, limit, offset)

    @get("/{code:str}", operation_id="getSchool", exclude_from_auth=True)
    async def get_school(
        self, campaign_id: FromPath[str], code: FromPath[str], session: DB
    ) -> SchoolOut:
        return await service.get(session, campaign_id, code)

    @post("/", operation_id="createSchool", guards=[allow("officer", "admin")])
    async def create(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[SchoolIn],
        session: DB,
        ctx: Ctx,
        actor: Actor,
    ) -> SchoolOut:
        return await service.create(session, ctx, actor, campaign_id, data)
