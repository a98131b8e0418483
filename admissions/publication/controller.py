"""Publication routes (docs/publication.md). Thin: parse, guard, call the service."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from admissions.accounts.guards import allow
from admissions.deps import DB, Actor, Ctx
from admissions.publication import service
from admissions.publication.schemas import (
    CosignIn,
    CosignOut,
    LookupIn,
    PublicationOut,
    PublishIn,
    ResultsOut,
)

JSON = "application/json"


class PublicationController(Controller):
    path = "/campaigns/{campaign_id:str}"
    tags = ("publication",)

    @post(
        "/publish",
        operation_id="publishCampaign",
        guards=[allow("officer", "admin")],
        status_code=200,
    )
    async def publish(
        self,
        campaign_id: FromPath[str],
        session: DB,
        ctx: Ctx,
        actor: Actor,
        data: JSONBody[PublishIn | None] = None,
    ) -> PublicationOut:
        """Run the fairness check and publish a drawn campaign's results (drawn -> published).
        No body normally; after a flag has been investigated, ``PublishIn`` acknowledges it."""
        return await service.publish(session, ctx, actor, campaign_id, data)

    @get("/results", operation_id="listResults", exclude_from_auth=True)
    async def results(self, campaign_id: FromPath[str], session: DB) -> ResultsOut:
        """Every school's seats, applicants, admitted, waitlist length and cutoffs."""
        return await service.results(session, campaign_id)

    @get("/results/{code:str}", operation_id="getSchoolResults", exclude_from_auth=True)
    async def school(
        self, campaign_id: FromPath[str], code: FromPath[str], session: DB
    ) -> Response[bytes]:
        """One school's table: admitted and ordered waitlist (masked names), cutoffs."""
        return Response(await service.school_table(session, campaign_id, code), media_type=JSON)

    @post("/results/lookup", operation_id="lookupResult", exclude_from_auth=True, status_code=200)
    async def lookup(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[LookupIn],
        session: DB,
        ctx: Ctx,
        request: Request[Any, Any, Any],
    ) -> Response[bytes]:
        """A family's own result and lottery numbers (application number + second factor;
        rate-limited)."""
        client = request.client.host if request.client else "unknown"
        body = await service.lookup(
            session, ctx, campaign_id, data.application, data.kind, data.last4, client
        )
        return Response(body, media_type=JSON, headers={"Cache-Control": "no-store"})

    @get("/fairness", operation_id="getFairness", exclude_from_auth=True)
    async def fairness(self, campaign_id: FromPath[str], session: DB) -> Response[bytes]:
        """The fairness report (paiwei-fairness/1) published with the results."""
        return Response(await service.fairness(session, campaign_id), media_type=JSON)

    @get(
        "/publication/checkpoint",
        operation_id="publicationCheckpoint",
        exclude_from_auth=True,
        media_type="text/plain",
    )
    async def checkpoint(self, campaign_id: FromPath[str], session: DB) -> Response[str]:
        """The checkpoint signed at publication, with the cosignatures on file."""
        return Response(
            await service.published_checkpoint(session, campaign_id),
            media_type="text/plain; charset=utf-8",
        )

    @post(
        "/publication/cosignatures",
        operation_id="cosignPublication",
        guards=[allow("witness", "notary")],
        status_code=200,
    )
    async def cosign(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[CosignIn],
        session: DB,
        ctx: Ctx,
        actor: Actor,
    ) -> CosignOut:
        """Submit the publication checkpoint with your cosignature (paiwei-audit cosign)."""
        return await service.cosign(session, ctx, actor, campaign_id, data.checkpoint)

    @get("/bundle", operation_id="downloadBundle", exclude_from_auth=True)
    async def bundle(self, campaign_id: FromPath[str], session: DB, ctx: Ctx) -> Response[bytes]:
        """The publication bundle (paiwei-bundle/1) as a .tar.gz."""
        data = await service.bundle_archive(session, ctx, campaign_id)
        return Response(
            data,
            media_type="application/gzip",
            headers={"Content-Disposition": f'attachment; filename="{campaign_id}-bundle.tar.gz"'},
        )
