from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from admissions.accounts.guards import allow
from admissions.applications import service
from admissions.applications.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationUpdate,
    ReceiptOut,
)
from admissions.deps import DB, Actor, Ctx, Limit, Offset, provide_actor
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
        campaign_id: FromPath[str],
        data: JSONBody[ApplicationIn],
        request: Request[Any, Any, Any],
    ) -> ApplicationOut:
        """Register a child; the response carries the receipt (salt, record hash, log entry)."""
        # The hot path takes no injected dependencies: Litestar resolves several dependencies
        # of one handler in an anyio task group, which cost about a third of this handler's
        # CPU in a py-spy profile. Same objects as the DB/Ctx/Actor dependencies give.
        state = request.app.state
        return await service.register_new_session(
            state.sessionmaker, state.ctx, provide_actor(request), campaign_id, data
        )

    @get(
        "/campaigns/{campaign_id:str}/applications",
        operation_id="listApplications",
        guards=[allow("parent", "officer", "admin")],
    )
    async def list_applications(
        self,
        campaign_id: FromPath[str],
        session: DB,
        ctx: Ctx,
        actor: Actor,
        limit: Limit = 50,
        offset: Offset = 0,
        status: FromQuery[Literal["active", "withdrawn"] | None] = None,
        review_status: FromQuery[Literal["pending", "eligible", "ineligible"] | None] = None,
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
        self, number: FromPath[str], session: DB, ctx: Ctx, actor: Actor
    ) -> ApplicationOut:
        return await service.get(session, ctx, actor, number)

    @put("/applications/{number:str}", operation_id="updateApplication", guards=[allow("parent")])
    async def update(
        self,
        number: FromPath[str],
        data: JSONBody[ApplicationUpdate],
        session: DB,
        ctx: Ctx,
        actor: Actor,
    ) -> ApplicationOut:
        """Replace the editable parts while the window is open; returns a new receipt."""
        return await service.update(session, ctx, actor, number, data)

    @get(
        "/applications/{number:str}/receipt",
        operation_id="getReceipt",
        guards=[allow("parent")],
    )
    async def receipt(
        self, number: FromPath[str], session: DB, ctx: Ctx, actor: Actor
    ) -> ReceiptOut:
        """The family's receipt again: tlog-proof under the current checkpoint, salt, hash."""
        return await service.receipt(session, ctx, actor, number)

    @post(
        "/applications/{number:str}/withdraw",
        operation_id="withdrawApplication",
        guards=[allow("parent")],
        status_code=200,
    )
    async def withdraw(
        self, number: FromPath[str], session: DB, ctx: Ctx, actor: Actor
    ) -> ApplicationOut:
        return await service.withdraw(session, ctx, actor, number)
