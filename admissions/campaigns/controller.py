from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody

from admissions.accounts.guards import allow
from admissions.campaigns import freeze as freeze_service
from admissions.campaigns import service
from admissions.campaigns.schemas import CampaignIn, CampaignOut, FreezeOut, PhaseIn, RosterOut
from admissions.deps import DB, Actor, Ctx, Limit, Offset
from admissions.errors import NotFound
from admissions.schemas import Page


class CampaignController(Controller):
    path = "/campaigns"
    tags = ("campaigns",)

    @get("/", operation_id="listCampaigns", exclude_from_auth=True)
    async def list_campaigns(
        self, session: DB, limit: Limit = 50, offset: Offset = 0
    ) -> Page[CampaignOut]:
        return await service.list_(session, limit, offset)

    @post("/", operation_id="createCampaign", guards=[allow("officer", "admin")])
    async def create(
        self, data: JSONBody[CampaignIn], session: DB, ctx: Ctx, actor: Actor
    ) -> CampaignOut:
        return await service.create(session, ctx, actor, data)

    @get("/{campaign_id:str}", operation_id="getCampaign", exclude_from_auth=True)
    async def get_campaign(self, campaign_id: FromPath[str], session: DB) -> CampaignOut:
        return await service.get(session, campaign_id)

    @post(
        "/{campaign_id:str}/phase",
        operation_id="changePhase",
        guards=[allow("officer", "admin")],
        status_code=200,
    )
    async def phase(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[PhaseIn],
        session: DB,
        ctx: Ctx,
        actor: Actor,
    ) -> CampaignOut:
        """Move the campaign to its next phase (open, closed, reviewed); preconditions enforced."""
        return await service.transition(session, ctx, actor, campaign_id, data.to)

    @post(
        "/{campaign_id:str}/freeze",
        operation_id="freezeCampaign",
        guards=[allow("officer", "admin")],
        status_code=200,
    )
    async def freeze(
        self, campaign_id: FromPath[str], session: DB, ctx: Ctx, actor: Actor
    ) -> FreezeOut:
        """Freeze a reviewed campaign: build lottery rosters, place undersubscribed choices."""
        return await freeze_service.freeze(session, ctx, actor, campaign_id)

    @get("/{campaign_id:str}/rosters", operation_id="listRosters", exclude_from_auth=True)
    async def rosters(self, campaign_id: FromPath[str], session: DB) -> list[RosterOut]:
        rows = await freeze_service.rosters(session, campaign_id)
        return [RosterOut(r.id, r.round, r.sha256, r.schools, r.applicants) for r in rows]

    @get(
        "/{campaign_id:str}/rosters/{roster_id:str}",
        operation_id="getRoster",
        exclude_from_auth=True,
    )
    async def roster(
        self, campaign_id: FromPath[str], roster_id: FromPath[str], session: DB
    ) -> Response[bytes]:
        """The frozen roster's exact RFC 8785 bytes (paiwei-instance/1 minus seed and policy)."""
        for r in await freeze_service.rosters(session, campaign_id):
            if r.id == roster_id:
                return Response(r.data, media_type="application/json")
        raise NotFound("no such roster", "roster_id", "no such roster")
