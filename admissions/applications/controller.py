from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post, put
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.accounts.guards import allow
from admissions.applications import service
from admissions.applications.schemas import ApplicationIn, ApplicationOut, ApplicationUpdate
from admissions.context import Context, Principal
from admissions.deps import Limit, Offset
from admissions.schemas import Page


class ApplicationController(Controller):
    tags = ("applications",)

    @post(
        "/campaigns/{campaign_id:str}/applications",
        operation_id="register",
        guards=[allow("parent")],
    )
    async def register(
        self,
        campaign_id: str,
        data: ApplicationIn,
        session: AsyncSession,
        ctx: Context,
        actor: Principal,
    ) -> ApplicationOut:
        """Register a child; the response carries the receipt (salt, record hash, log entry)."""
        return await service.register(session, ctx, actor, campaign_id, data)

    @get(
        "/campaigns/{campaign_id:str}/applications",
        operation_id="listApplications",
        guards=[allow("parent", "officer", "admin")],
    )
    async def list_applications(
        self,
        campaign_id: str,
        session: AsyncSession,
        ctx: Context,
        actor: Principal,
        limit: Limit = 50,
        offset: Offset = 0,
        status: Literal["active", "withdrawn"] | None = None,
        review_status: Literal["pending", "eligible", "ineligible"] | None = None,
    ) -> Page[ApplicationOut]:
        """Parents: their own; district officers: their district; city officers and admins: all."""
        return await service.list_(
            session, ctx, actor, campaign_id, limit, offset, status, review_status
        )

    @get(
        "/applications/{number:str}",
        operation_id="getApplication",
        guards=[allow("parent", "officer", "admin")],
    )
    async def get_application(
        self, number: str, session: AsyncSession, ctx: Context, actor: Principal
    ) -> ApplicationOut:
        return await service.get(session, ctx, actor, number)

    @put("/applications/{number:str}", operation_id="updateApplication", guards=[allow("parent")])
    async def update(
        self,
        number: str,
        data: ApplicationUpdate,
        session: AsyncSession,
        ctx: Context,
        actor: Principal,
    ) -> ApplicationOut:
        """Replace the editable parts while the window is open; returns a new receipt."""
        return await service.update(session, ctx, actor, number, data)

    @post(
        "/applications/{number:str}/withdraw",
        operation_id="withdrawApplication",
        guards=[allow("parent")],
        status_code=200,
    )
    async def withdraw(
        self, number: str, session: AsyncSession, ctx: Context, actor: Principal
    ) -> ApplicationOut:
        return await service.withdraw(session, ctx, actor, number)
