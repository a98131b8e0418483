"""Roster freeze: from a reviewed campaign to lottery rosters (paiwei-instance/1 without seed).

Algorithm (the private round; all counts in seats, a bundle of n multiples takes n):
1. Units: active applications reviewed ``eligible``, bundled multiples grouped (unit id = the
   group id, else the application number). Only private choices take part here; public
   catchment placement (统筹) is the ceremony's public round.
2. Reserved seats (china-practice §1.4): a unit whose members all hold the same approved
   reserved claim targets the first (highest-ranked) such school. If a category's demand fits
   its seats, those units are placed without a lottery ("reserved:<category>") and the unused
   seats roll into the school's first pool. If not, the category becomes its own lottery
   "school" ``<school>/reserved:<category>`` (capacity = its seats), inserted in the claimants'
   choice lists just before that school's pool.
3. Pools: capacity = seats (+ rollover). Demand = seats wanted by every remaining unit that
   lists the pool at *any* rank. A pool with demand <= capacity is undersubscribed: every unit
   reaching it is admitted under both mechanisms (deferred acceptance and preference rounds never
   reject from it), so units whose *first* choice is undersubscribed are placed now
   ("undersubscribed"), and the pool stays in the lottery with the seats left for the others.
4. The remaining units and the pools they list form a graph; each connected component becomes
   one roster (so with one private choice per family there is exactly one roster per
   oversubscribed pool, and ranked choices that couple pools stay in one draw).
   Roster school ids are ``<school>/<pool>``; applicant ids are application numbers; groups are
   the bundle ids; no priorities (private schools may not select). The stored roster is
   ``{"format", "schools", "applicants"}`` in RFC 8785 form: the ceremony adds ``seed``,
   ``mechanism``, ``tie_breaking`` and ``group_policy`` (:func:`instance_bytes`).
Everything (rosters, placements, phase change and the ``roster.freeze`` log entry with each
roster's SHA-256 and every placement) commits in one transaction.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Any

import rfc8785
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.applications.models import Application
from admissions.campaigns.models import Placement, Roster
from admissions.campaigns.schemas import FreezeOut, RosterOut
from admissions.campaigns.service import load, require_city, set_phase, to_out
from admissions.context import Context, Principal
from admissions.errors import Conflict, PhaseError
from admissions.schools.models import School


def instance_bytes(
    roster: bytes, seed: bytes, mechanism: str, tie_breaking: str, group_policy: str
) -> bytes:
    """The full paiwei-instance/1 (RFC 8785) for a stored roster and the ceremony's choices."""
    doc: dict[str, Any] = rfc8785_loads(roster)
    doc.update(
        seed=seed.hex(), mechanism=mechanism, tie_breaking=tie_breaking, group_policy=group_policy
    )
    return rfc8785.dumps(doc)


def new_roster(
    campaign_id: str, round_: str, number: int, doc: dict[str, Any], now: datetime
) -> Roster:
    """The stored form of a roster document: RFC 8785 bytes, their SHA-256 and the counts;
    id ``<campaign>-<round>-<n>``."""
    data = rfc8785.dumps(doc)
    return Roster(
        id=f"{campaign_id}-{round_}-{number}",
        campaign_id=campaign_id,
        round=round_,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        schools=len(doc["schools"]),
        applicants=len(doc["applicants"]),
        created_at=now,
    )


def rfc8785_loads(data: bytes) -> dict[str, Any]:
    import json

    out: dict[str, Any] = json.loads(data)
    return out


class _Unit:
    __slots__ = ("choices", "id", "members", "reserved")

    def __init__(self, uid: str, members: list[Application]) -> None:
        self.id = uid
        self.members = members
        self.choices: list[str] = [
            f"{c['school']}/{c['pool']}" for c in members[0].choices.get("private", [])
        ]
        self.reserved: tuple[str, str] | None = None

    @property
    def size(self) -> int:
        return len(self.members)


def plan(
    apps: list[Application], schools: dict[str, School]
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str | None, str]]]:
    """Pure planning step: (roster documents, placements as (number, school, pool, basis))."""
    groups: dict[str, list[Application]] = defaultdict(list)
    for a in sorted(apps, key=lambda a: a.number):
        groups[a.group_id or a.number].append(a)
    units: list[_Unit] = []
    for uid, members in sorted(groups.items()):
        if any(m.choices != members[0].choices for m in members):
            raise Conflict(
                f"bundle {uid} has members with different choices", "group", "choices differ"
            )
        u = _Unit(uid, members)
        if u.choices:
            units.append(u)
    placements: list[tuple[str, str, str | None, str]] = []
    capacity: dict[str, int] = {}
    for s in schools.values():
        if s.kind == "private":
            for p in s.pools:
                capacity[f"{s.code}/{p['code']}"] = int(p["seats"])

    # 2. reserved seats
    demand_r: dict[tuple[str, str], list[_Unit]] = defaultdict(list)
    for u in units:
        approved = [
            {
                (c["school"], c["code"])
                for c in m.claims
                if c["kind"] == "reserved" and c["status"] == "eligible"
            }
            for m in u.members
        ]
        common = set.intersection(*approved) if approved else set()
        for ch in u.choices:
            school = ch.split("/", 1)[0]
            hits = sorted(k for k in common if k[0] == school)
            if hits:
                u.reserved = hits[0]
                demand_r[hits[0]].append(u)
                break
    remaining: list[_Unit] = []
    for u in units:
        if u.reserved is None:
            remaining.append(u)
    for s in sorted(schools.values(), key=lambda s: s.code):
        if s.kind != "private":
            continue
        for r in s.reserved:
            key = (s.code, r["category"])
            claimants = demand_r.get(key, [])
            need = sum(u.size for u in claimants)
            if need <= r["seats"]:
                for u in claimants:
                    for m in u.members:
                        placements.append((m.number, s.code, None, f"reserved:{r['category']}"))
                if s.pools:
                    capacity[f"{s.code}/{s.pools[0]['code']}"] += int(r["seats"]) - need
            else:
                rid = f"{s.code}/reserved:{r['category']}"
                capacity[rid] = int(r["seats"])
                for u in claimants:
                    i = next(i for i, ch in enumerate(u.choices) if ch.startswith(s.code + "/"))
                    u.choices = [*u.choices[:i], rid, *u.choices[i:]]
                    remaining.append(u)

    # 3. undersubscribed pools
    demand: dict[str, int] = defaultdict(int)
    for u in remaining:
        for ch in u.choices:
            demand[ch] += u.size
    lottery_units: list[_Unit] = []
    for u in sorted(remaining, key=lambda u: u.id):
        first = u.choices[0]
        if demand[first] <= capacity[first]:
            school, pool = first.split("/", 1)
            for m in u.members:
                placements.append((m.number, school, pool, "undersubscribed"))
            capacity[first] -= u.size
        else:
            lottery_units.append(u)

    # 4. connected components (union-find over roster school ids)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u in lottery_units:
        for ch in u.choices[1:]:
            parent[find(ch)] = find(u.choices[0])
        find(u.choices[0])
    comps: dict[str, list[_Unit]] = defaultdict(list)
    for u in lottery_units:
        comps[find(u.choices[0])].append(u)
    rosters: list[dict[str, Any]] = []
    for units_c in comps.values():
        sids = sorted({ch for u in units_c for ch in u.choices})
        applicants: list[dict[str, Any]] = []
        for u in units_c:
            for m in u.members:
                applicants.append(
                    {"id": m.number, "choices": u.choices, "group": u.id if u.size > 1 else None}
                )
        applicants.sort(key=lambda a: a["id"])
        rosters.append(
            {
                "format": "paiwei-instance/1",
                "schools": [{"id": s, "capacity": capacity[s]} for s in sids],
                "applicants": applicants,
            }
        )
    rosters.sort(key=lambda r: r["schools"][0]["id"])
    placements.sort()
    return rosters, placements


def plan_public(
    apps: list[Application], schools: dict[str, School], placed: set[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str | None, str]]]:
    """The public round (统筹), for the ceremony to run after the private draw.

    Every eligible application not in ``placed`` (admitted in the private round) that chose a
    public school asks for a seat there. A school with demand <= plan admits all
    ("undersubscribed"); otherwise it gets its own roster (school id = the school's code) in
    which an applicant's ``priority`` is the highest ``rank`` among its *approved* band claims
    at that school (0 without one; the lottery serves higher priority first). Returns (roster
    documents without seed/policy, placements) like :func:`plan`.
    """
    by_school: dict[str, list[Application]] = defaultdict(list)
    for a in sorted(apps, key=lambda a: a.number):
        code = a.choices.get("public")
        if code and a.number not in placed and code in schools:
            by_school[code].append(a)
    rosters: list[dict[str, Any]] = []
    placements: list[tuple[str, str, str | None, str]] = []
    for code in sorted(by_school):
        s, members = schools[code], by_school[code]
        if len(members) <= s.plan:
            placements += [(a.number, code, None, "undersubscribed") for a in members]
            continue
        ranks = {b["code"]: int(b["rank"]) for b in s.bands}
        applicants: list[dict[str, Any]] = []
        for a in members:
            prio = max(
                (
                    ranks.get(c["code"], 0)
                    for c in a.claims
                    if c["kind"] == "band" and c["school"] == code and c["status"] == "eligible"
                ),
                default=0,
            )
            applicants.append(
                {
                    "id": a.number,
                    "choices": [code],
                    "priority": {code: prio} if prio else {},
                    "group": a.group_id,
                }
            )
        # a bundle whose other members were placed privately is no longer a bundle here
        counts: dict[str, int] = defaultdict(int)
        for x in applicants:
            if x["group"]:
                counts[x["group"]] += 1
        for x in applicants:
            if x["group"] and counts[x["group"]] < 2:
                x["group"] = None
        rosters.append(
            {
                "format": "paiwei-instance/1",
                "schools": [{"id": code, "capacity": s.plan}],
                "applicants": applicants,
            }
        )
    placements.sort()
    return rosters, placements


async def eligible_applications(
    session: AsyncSession, campaign_id: str
) -> tuple[list[Application], dict[str, School]]:
    """Active, eligible applications and the schools of a campaign (inputs of both planners;
    call inside the caller's transaction)."""
    apps = list(
        (
            await session.execute(
                sa.select(Application).where(
                    Application.campaign_id == campaign_id,
                    Application.status == "active",
                    Application.review_status == "eligible",
                )
            )
        ).scalars()
    )
    rows = await session.execute(sa.select(School).where(School.campaign_id == campaign_id))
    return apps, {s.code: s for s in rows.scalars()}


async def freeze(
    session: AsyncSession, ctx: Context, actor: Principal, campaign_id: str
) -> FreezeOut:
    require_city(actor)
    now = ctx.clock()
    async with session.begin():
        c = await load(session, campaign_id, lock=True)
        if c.phase != "reviewed":
            raise PhaseError(
                f"only a reviewed campaign can be frozen (it is {c.phase})",
                "campaign_id",
                f"campaign is {c.phase}",
            )
        apps, schools = await eligible_applications(session, c.id)
        docs, placed = plan(apps, schools)
        out: list[RosterOut] = []
        for i, doc in enumerate(docs, 1):
            r = new_roster(c.id, "private", i, doc, now)
            session.add(r)
            out.append(RosterOut(r.id, r.round, r.sha256, r.schools, r.applicants))
        for number, school, pool, basis in placed:
            session.add(
                Placement(
                    campaign_id=c.id,
                    application_number=number,
                    round="private",
                    school_code=school,
                    pool_code=pool,
                    basis=basis,
                    created_at=now,
                )
            )
        c.frozen_at = now
        await session.flush()
        seq = await set_phase(
            session,
            ctx,
            actor,
            c,
            "frozen",
            {
                "rosters": [
                    {
                        "id": r.id,
                        "sha256": r.sha256,
                        "schools": r.schools,
                        "applicants": r.applicants,
                    }
                    for r in out
                ],
                "placements": [[n, s, p, b] for n, s, p, b in placed],
            },
            kind="roster.freeze",
        )
    return FreezeOut(to_out(c, seq), out, len(placed), seq)


async def rosters(session: AsyncSession, campaign_id: str) -> list[Roster]:
    async with session.begin():
        await load(session, campaign_id)
        rows = await session.execute(
            sa.select(Roster).where(Roster.campaign_id == campaign_id).order_by(Roster.id)
        )
        return list(rows.scalars())
