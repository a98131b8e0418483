"""Routes of the ceremony (thin: guards, operation ids; the service owns the transactions)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody

from admissions.accounts.guards import allow
from admissions.ceremony import service
from admissions.ceremony.schemas import (
    BeaconIn,
    DecisionIn,
    DrawIn,
    DrawOut,
    NoteIn,
    OfferDecisionIn,
    StandingOut,
    SweepOut,
    WitnessOut,
)
from admissions.deps import DB, Actor, Ctx
from admissions.errors import NotFound


class CampaignDrawController(Controller):
    path = "/campaigns/{campaign_id:str}"
    tags = ("ceremony",)

    @post("/draws", operation_id="openDraw", guards=[allow("officer", "admin")])
    async def open_draw(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[DrawIn],
        session: DB,
        ctx: Ctx,
        actor: Actor,
    ) -> DrawOut:
        """Open the round's draw: logs draw.roster (policy, witnesses, beacon) and deadlines."""
        return await service.open_draw(session, ctx, actor, campaign_id, data)

    @get("/draws", operation_id="listDraws", exclude_from_auth=True)
    async def list_draws(self, campaign_id: FromPath[str], session: DB) -> list[DrawOut]:
        return await service.list_draws(session, campaign_id)

    @post(
        "/vacancies",
        operation_id="sweepVacancies",
        guards=[allow("officer", "admin")],
        status_code=200,
    )
    async def sweep(
        self, campaign_id: FromPath[str], session: DB, ctx: Ctx, actor: Actor
    ) -> SweepOut:
        """Lapse unconfirmed seats and unanswered offers; offer free seats down the waitlists."""
        return await service.sweep(session, ctx, actor, campaign_id)


class DrawController(Controller):
    path = "/draws/{draw_id:str}"
    tags = ("ceremony",)

    @get("/", operation_id="getDraw", exclude_from_auth=True)
    async def get_draw(self, draw_id: FromPath[str], session: DB) -> DrawOut:
        return await service.get_draw(session, draw_id)

    @get("/instance", operation_id="getDrawInstance", exclude_from_auth=True)
    async def instance(self, draw_id: FromPath[str], session: DB) -> Response[bytes]:
        """The instance's exact bytes (without seed before the draw; instance.json after)."""
        inst, _ = await service.draw_files(session, draw_id)
        return Response(inst, media_type="application/json")

    @get("/result", operation_id="getDrawResult", exclude_from_auth=True)
    async def result(self, draw_id: FromPath[str], session: DB) -> Response[bytes]:
        """result.json exactly as lottery.run produced it."""
        _, res = await service.draw_files(session, draw_id)
        if res is None:
            raise NotFound("the draw has no result yet", "draw_id", "not drawn")
        return Response(res, media_type="application/json")

    @post(
        "/commit",
        operation_id="submitCommit",
        guards=[allow("witness", "notary")],
        status_code=200,
    )
    async def commit(
        self, draw_id: FromPath[str], data: JSONBody[NoteIn], session: DB, ctx: Ctx, actor: Actor
    ) -> WitnessOut:
        return await service.submit_commit(session, ctx, actor, draw_id, data.note)

    @post(
        "/reveal",
        operation_id="submitReveal",
        guards=[allow("witness", "notary")],
        status_code=200,
    )
    async def reveal(
        self, draw_id: FromPath[str], data: JSONBody[NoteIn], session: DB, ctx: Ctx, actor: Actor
    ) -> WitnessOut:
        return await service.submit_reveal(session, ctx, actor, draw_id, data.note)

    @post(
        "/beacon", operation_id="enterBeacon", guards=[allow("officer", "admin")], status_code=200
    )
    async def beacon(
        self, draw_id: FromPath[str], data: JSONBody[BeaconIn], session: DB, ctx: Ctx, actor: Actor
    ) -> DrawOut:
        evidence: dict[str, Any] = dict(data.evidence)
        return await service.enter_beacon(session, ctx, actor, draw_id, evidence)

    @post("/run", operation_id="runDraw", guards=[allow("officer", "admin")], status_code=200)
    async def run(self, draw_id: FromPath[str], session: DB, ctx: Ctx, actor: Actor) -> DrawOut:
        """Derive the seed, run the lottery, store results: idempotent, exclusive, atomic."""
        return await service.run_draw(session, ctx, actor, draw_id)


class StandingController(Controller):
    path = "/applications/{number:str}"
    tags = ("ceremony",)

    @get(
        "/standing",
        operation_id="getStanding",
        guards=[allow("parent", "officer", "admin")],
    )
    async def standing(
        self, number: FromPath[str], session: DB, ctx: Ctx, actor: Actor
    ) -> StandingOut:
        return await service.standing(session, ctx, actor, number)

    @post("/placement", operation_id="answerPlacement", guards=[allow("parent")], status_code=200)
    async def placement(
        self, number: FromPath[str], data: JSONBody[DecisionIn], session: DB, ctx: Ctx, actor: Actor
    ) -> StandingOut:
        """Confirm or decline the seat before the confirmation deadline."""
        return await service.respond_placement(session, ctx, actor, number, data.decision)

    @post("/offer", operation_id="answerOffer", guards=[allow("parent")], status_code=200)
    async def offer(
        self,
        number: FromPath[str],
        data: JSONBody[OfferDecisionIn],
        session: DB,
        ctx: Ctx,
        actor: Actor,
    ) -> StandingOut:
        """Accept or decline an outstanding waitlist offer."""
        return await service.respond_offer(session, ctx, actor, number, data.decision, data.offer)
