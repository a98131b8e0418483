from __future__ import annotations

from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.accounts.guards import allow
from admissions.context import Context, Principal
from admissions.deps import Limit, Offset
from admissions.schemas import Page
from admissions.schools import service
from admissions.schools.schemas import SchoolIn, SchoolOut


class SchoolController(Controller):
    path = "/campaigns/{campaign_id:str}/schools"
    tags = ("schools",)

    @get("/", operation_id="listSchools", exclude_from_auth=True)
    async def list_schools(
        self, campaign_id: str, session: AsyncSession, limit: Limit = 50, offset: Offset = 0
    ) -> Page[SchoolOut]:
        return await service.list_(session, campaign_id, limit, offset)

    @get("/{code:str}", operation_id="getSchool", exclude_from_auth=True)
    async def get_school(self, campaign_id: str, code: str, session: AsyncSession) -> SchoolOut:
        return await service.get(session, campaign_id, code)

    @post("/", operation_id="createSchool", guards=[allow("officer", "admin")])
    async def create(
        self,
        campaign_id: str,
        data: SchoolIn,
        session: AsyncSession,
        ctx: Context,
        actor: Principal,
    ) -> SchoolOut:
        return await service.create(session, ctx, actor, campaign_id, data)
