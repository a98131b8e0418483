from __future__ import annotations

from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from admissions.accounts.guards import allow
from admissions.applications.schemas import ApplicationOut
from admissions.deps import DB, Actor, Ctx
from admissions.review import service
from admissions.review.schemas import AppealIn, ReviewIn


class ReviewController(Controller):
    path = "/applications/{number:str}"
    tags = ("review",)

    @post(
        "/review",
        operation_id="reviewApplication",
        guards=[allow("officer", "admin")],
        status_code=200,
    )
    async def review(
        self, number: FromPath[str], data: JSONBody[ReviewIn], session: DB, ctx: Ctx, actor: Actor
    ) -> ApplicationOut:
        """Decide the application and every claim, with reasons (resolves a pending appeal)."""
        return await service.decide(session, ctx, actor, number, data)

    @post("/appeal", operation_id="appealApplication", guards=[allow("parent")], status_code=200)
    async def appeal(
        self, number: FromPath[str], data: JSONBody[AppealIn], session: DB, ctx: Ctx, actor: Actor
    ) -> ApplicationOut:
        """The family appeals the decision, once, before the review deadline."""
        return await service.appeal(session, ctx, actor, number, data)
