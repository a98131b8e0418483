"""Campaigns and their phases.

Phases (server-enforced, checked against the injectable clock):
``draft -> open`` (officer/admin, once ``open_at`` has come, with at least one school),
``open -> closed`` (once ``close_at`` has passed), ``closed -> reviewed`` (once the review
deadline has passed, every active application is decided and no appeal is pending),
``reviewed -> frozen`` (:func:`admissions.campaigns.freeze.freeze`). The ceremony adds
``frozen -> drawn -> published -> archived`` through :func:`set_phase`.
Registration, edits and withdrawal need phase ``open`` *and* ``open_at <= now < close_at``.
"""

from __future__ import annotations

import secrets

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.applications.models import Application
from admissions.auditlog.service import append
from admissions.campaigns.models import PHASES, Campaign
from admissions.campaigns.schemas import CampaignIn, CampaignOut, Rules
from admissions.context import Context, Principal
from admissions.errors import Forbidden, InvalidInput, NotFound, PhaseError
from admissions.schemas import Page
from admissions.schools.models import School


def to_out(c: Campaign, log_seq: int | None = None) -> CampaignOut:
    return CampaignOut(
        id=c.id,
        name=c.name,
        year=c.year,
        region=c.region,
        stage=c.stage,
        phase=c.phase,
        open_at=c.open_at,
        close_at=c.close_at,
        review_deadline=c.review_deadline,
        rules=msgspec.convert(c.rules, Rules),
        log_seq=log_seq,
    )


def require_city(actor: Principal) -> None:
    """Campaign-wide actions: admins and city-level officers (no district) only."""
    if actor.role == "officer" and actor.district is not None:
        raise Forbidden("campaign-wide action needs a city-level officer")


def rules_of(c: Campaign) -> Rules:
    return msgspec.convert(c.rules, Rules)


async def load(session: AsyncSession, campaign_id: str, *, lock: bool = False) -> Campaign:
    stmt = sa.select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    c = (await session.execute(stmt)).scalar_one_or_none()
    if c is None:
        raise NotFound("no such campaign", "campaign_id", "no such campaign")
    return c


def require_window(ctx: Context, c: Campaign) -> None:
    """Registration window: phase open and open_at <= now < close_at."""
    now = ctx.clock()
    if c.phase != "open":
        raise PhaseError(
            f"campaign is {c.phase}, not open", "campaign_id", f"campaign is {c.phase}"
        )
    if not (c.open_at <= now < c.close_at):
        raise PhaseError("outside the registration window", "campaign_id", "window closed")


async def create(
    session: AsyncSession, ctx: Context, actor: Principal, data: CampaignIn
) -> CampaignOut:
    require_city(actor)
    if not data.open_at < data.close_at:
        raise InvalidInput("close_at", "must be after open_at")
    if not data.close_at < data.review_deadline:
        raise InvalidInput("review_deadline", "must be after close_at")
    rules = msgspec.to_builtins(data.rules)
    c = Campaign(
        id="c" + secrets.token_hex(6),
        name=data.name,
        year=data.year,
        region=data.region,
        stage=data.stage,
        phase="draft",
        open_at=data.open_at,
        close_at=data.close_at,
        review_deadline=data.review_deadline,
        rules=rules,
        created_at=ctx.clock(),
    )
    async with session.begin():
        session.add(c)
        await session.flush()
        e = await append(
            session,
            ctx,
            "campaign.create",
            actor.actor,
            {
                "campaign": c.id,
                "name": c.name,
                "year": c.year,
                "region": c.region,
                "stage": c.stage,
                "open_at": data.open_at.isoformat(),
                "close_at": data.close_at.isoformat(),
                "review_deadline": data.review_deadline.isoformat(),
                "rules": rules,
            },
        )
    return to_out(c, e.seq)


async def get(session: AsyncSession, campaign_id: str) -> CampaignOut:
    async with session.begin():
        return to_out(await load(session, campaign_id))


async def list_(session: AsyncSession, limit: int, offset: int) -> Page[CampaignOut]:
    async with session.begin():
        total = (await session.execute(sa.select(sa.func.count(Campaign.id)))).scalar_one()
        rows = await session.execute(
            sa.select(Campaign)
            .order_by(Campaign.created_at, Campaign.id)
            .limit(limit)
            .offset(offset)
        )
        return Page([to_out(c) for c in rows.scalars()], total, limit, offset)


async def set_phase(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    c: Campaign,
    to: str,
    extra: dict[str, object] | None = None,
    kind: str = "campaign.phase",
) -> int:
    """Record a phase change and its log entry in the caller's transaction; returns the seq.
    Only checks that ``to`` directly follows the current phase; callers check preconditions."""
    if to not in PHASES or PHASES.index(to) != PHASES.index(c.phase) + 1:
        raise PhaseError(f"cannot move from {c.phase} to {to}", "to", f"not allowed from {c.phase}")
    body: dict[str, object] = {"campaign": c.id, "from": c.phase, "to": to}
    if extra:
        body.update(extra)
    c.phase = to
    e = await append(session, ctx, kind, actor.actor, body)
    return e.seq


async def transition(
    session: AsyncSession, ctx: Context, actor: Principal, campaign_id: str, to: str
) -> CampaignOut:
    require_city(actor)
    now = ctx.clock()
    async with session.begin():
        c = await load(session, campaign_id, lock=True)
        if to == "open":
            if c.phase != "draft":
                raise PhaseError(
                    f"cannot open a {c.phase} campaign", "to", f"campaign is {c.phase}"
                )
            if now < c.open_at:
                raise PhaseError("the window has not started", "to", "before open_at")
            if now >= c.close_at:
                raise PhaseError("the window is already over", "to", "after close_at")
            n = (
                await session.execute(
                    sa.select(sa.func.count(School.id)).where(School.campaign_id == c.id)
                )
            ).scalar_one()
            if n == 0:
                raise PhaseError("a campaign needs schools before it opens", "to", "no schools")
        elif to == "closed":
            if c.phase == "open" and now < c.close_at:
                raise PhaseError("the window is still running", "to", "before close_at")
        elif to == "reviewed" and c.phase == "closed":
            if now < c.review_deadline:
                raise PhaseError(
                    "the review/appeal period is still running", "to", "before review_deadline"
                )
            pending = (
                await session.execute(
                    sa.select(sa.func.count(Application.id)).where(
                        Application.campaign_id == c.id,
                        Application.status == "active",
                        sa.or_(
                            Application.review_status == "pending",
                            Application.appeal_status == "pending",
                        ),
                    )
                )
            ).scalar_one()
            if pending:
                raise PhaseError(
                    f"{pending} applications still need a decision",
                    "to",
                    "undecided applications or pending appeals",
                )
        seq = await set_phase(session, ctx, actor, c, to)
    return to_out(c, seq)
