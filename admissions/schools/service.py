"""Schools of a campaign. Private: ``plan = sum(reserved seats) + sum(pool seats)``, at least one
pool, no catchments. Public: catchments (施教区) and priority bands, no pools or reserved seats.
Schools are added while the campaign is a draft, by an officer of the school's district (or a
city-level officer / admin)."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.auditlog.service import append
from admissions.campaigns.service import load as load_campaign
from admissions.context import Context, Principal
from admissions.errors import Conflict, Forbidden, InvalidInput, NotFound, PhaseError
from admissions.schemas import Page
from admissions.schools.models import School
from admissions.schools.schemas import Band, Pool, Reserved, SchoolIn, SchoolOut


def to_out(s: School) -> SchoolOut:
    return SchoolOut(
        code=s.code,
        name=s.name,
        district=s.district,
        kind=s.kind,
        plan=s.plan,
        reserved=msgspec.convert(s.reserved, list[Reserved]),
        pools=msgspec.convert(s.pools, list[Pool]),
        catchments=list(s.catchments),
        bands=msgspec.convert(s.bands, list[Band]),
    )


def _dupes(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise InvalidInput(f"{field}[{i}]", "duplicate code")
        seen.add(v)


def validate(data: SchoolIn) -> None:
    _dupes("pools", [p.code for p in data.pools])
    _dupes("reserved", [r.category for r in data.reserved])
    _dupes("catchments", list(data.catchments))
    _dupes("bands", [b.code for b in data.bands])
    if data.kind == "private":
        if not data.pools:
            raise InvalidInput("pools", "a private school needs at least one lottery pool")
        if data.catchments or data.bands:
            raise InvalidInput("catchments", "private schools have no catchments or bands")
        total = sum(r.seats for r in data.reserved) + sum(p.seats for p in data.pools)
        if total != data.plan:
            raise InvalidInput("plan", f"must equal reserved seats plus pool seats ({total})")
    else:
        if data.pools or data.reserved:
            raise InvalidInput("pools", "public schools have no pools or reserved seats")
        if not data.catchments:
            raise InvalidInput("catchments", "a public school needs a catchment area")


async def create(
    session: AsyncSession, ctx: Context, actor: Principal, campaign_id: str, data: SchoolIn
) -> SchoolOut:
    validate(data)
    if actor.role == "officer" and actor.district not in (None, data.district):
        raise Forbidden(
            "officers add schools of their own district", "district", "not your district"
        )
    out: SchoolOut
    try:
        async with session.begin():
            c = await load_campaign(session, campaign_id, lock=True)
            if c.phase != "draft":
                raise PhaseError(
                    "schools are fixed once the campaign opens",
                    "campaign_id",
                    f"campaign is {c.phase}",
                )
            s = School(
                campaign_id=c.id,
                code=data.code,
                name=data.name,
                district=data.district,
                kind=data.kind,
                plan=data.plan,
                reserved=msgspec.to_builtins(data.reserved),
                pools=msgspec.to_builtins(data.pools),
                catchments=list(data.catchments),
                bands=msgspec.to_builtins(data.bands),
            )
            session.add(s)
            await session.flush()
            out = to_out(s)
            await append(
                session,
                ctx,
                "school.create",
                actor.actor,
                {"campaign": c.id, **msgspec.to_builtins(out)},
            )
    except IntegrityError:
        raise Conflict("a school with this code exists", "code", "already exists") from None
    return out


async def schools_of(
    session: AsyncSession, campaign_id: str, codes: set[str] | None = None
) -> dict[str, School]:
    """The campaign's schools by code (only ``codes`` if given)."""
    stmt = sa.select(School).where(School.campaign_id == campaign_id)
    if codes is not None:
        stmt = stmt.where(School.code.in_(sorted(codes)))
    rows = await session.execute(stmt)
    return {s.code: s for s in rows.scalars()}


async def get(session: AsyncSession, campaign_id: str, code: str) -> SchoolOut:
    async with session.begin():
        s = (
            await session.execute(
                sa.select(School).where(School.campaign_id == campaign_id, School.code == code)
            )
        ).scalar_one_or_none()
        if s is None:
            raise NotFound("no such school", "code", "no such school")
        return to_out(s)


async def list_(
    session: AsyncSession, campaign_id: str, limit: int, offset: int
) -> Page[SchoolOut]:
    async with session.begin():
        await load_campaign(session, campaign_id)
        where = School.campaign_id == campaign_id
        total = (
            await session.execute(sa.select(sa.func.count(School.id)).where(where))
        ).scalar_one()
        rows = await session.execute(
            sa.select(School).where(where).order_by(School.code).limit(limit).offset(offset)
        )
        return Page([to_out(s) for s in rows.scalars()], total, limit, offset)
