"""Review and appeal.

Officers decide (phase ``closed``) each application and every claim, with a reason; only the
decisions (not the free-text reasons, which may mention people) are logged. The family sees the
outcome and may appeal once, while ``now < review_deadline``; an officer's next decision resolves
the appeal. ``closed -> reviewed`` is refused while any active application is undecided or an
appeal is pending (admissions.campaigns.service.transition).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from admissions.applications.schemas import ApplicationOut
from admissions.applications.service import check_access, load, load_campaign_shared, to_out
from admissions.auditlog.service import append
from admissions.context import Context, Principal
from admissions.errors import Conflict, Forbidden, InvalidInput, PhaseError
from admissions.review.schemas import AppealIn, ReviewIn


async def decide(
    session: AsyncSession, ctx: Context, actor: Principal, number: str, data: ReviewIn
) -> ApplicationOut:
    if actor.role not in ("officer", "admin"):
        raise Forbidden("only officers review")
    async with session.begin():
        app = await load(session, number, lock=True)
        check_access(actor, app)
        c = await load_campaign_shared(session, app.campaign_id)
        if c.phase != "closed":
            raise PhaseError(
                f"review happens while the campaign is closed (it is {c.phase})",
                "number",
                f"campaign is {c.phase}",
            )
        if app.status != "active":
            raise Conflict("application was withdrawn", "number", "withdrawn")
        indices = [d.index for d in data.claims]
        if len(set(indices)) != len(indices):
            raise InvalidInput("claims", "a claim is decided twice")
        if sorted(indices) != list(range(len(app.claims))):
            raise InvalidInput(
                "claims", f"decide every claim exactly once (indices 0..{len(app.claims) - 1})"
            )
        claims = [dict(cl) for cl in app.claims]
        for d in data.claims:
            claims[d.index]["status"] = d.decision
            claims[d.index]["reason"] = d.reason
        app.claims = claims
        resolved = app.appeal_status == "pending"
        app.review_status, app.review_reason = data.decision, data.reason
        if resolved:
            app.appeal_status = "resolved"
        app.updated_at = ctx.clock()
        await session.flush()
        await append(
            session,
            ctx,
            "review.decision",
            actor.actor,
            {
                "campaign": c.id,
                "application": number,
                "decision": data.decision,
                "claims": [
                    {"index": d.index, "decision": d.decision}
                    for d in sorted(data.claims, key=lambda d: d.index)
                ],
                "appeal_resolved": resolved,
            },
        )
    return to_out(ctx, app)


async def appeal(
    session: AsyncSession, ctx: Context, actor: Principal, number: str, data: AppealIn
) -> ApplicationOut:
    async with session.begin():
        app = await load(session, number, lock=True)
        check_access(actor, app)
        if actor.role != "parent":
            raise Forbidden("only the family appeals")
        c = await load_campaign_shared(session, app.campaign_id)
        if c.phase != "closed" or ctx.clock() >= c.review_deadline:
            raise PhaseError("the appeal period is over", "number", "after the review deadline")
        if app.review_status == "pending":
            raise Conflict(
                "nothing to appeal yet: the application is not decided", "number", "not decided"
            )
        if app.appeal_status != "none":
            raise Conflict("an application may be appealed once", "number", "already appealed")
        app.appeal_status = "pending"
        app.appeal = ctx.cipher.encrypt(data.reason.encode(), (number + ":appeal").encode())
        app.updated_at = ctx.clock()
        await session.flush()
        await append(
            session, ctx, "review.appeal", actor.actor, {"campaign": c.id, "application": number}
        )
    return to_out(ctx, app)
