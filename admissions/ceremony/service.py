"""The lottery ceremony: open, commit, reveal, beacon, draw; the 统筹 public round; vacancies.

Theory of operation (docs/ceremony.md; log formats: docs/log-format.md §3)
--------------------------------------------------------------------------
One draw per campaign round (``<campaign>-private``, ``<campaign>-public``). Its instance is the
union of the round's frozen rosters plus the policy published at opening. Every step is one
transaction that locks the draw row (``FOR UPDATE`` on PostgreSQL; SQLite transactions are
``BEGIN IMMEDIATE``) and appends its log entry with :func:`admissions.auditlog.service.append`
(the bodies come from :mod:`audit.draw`'s builders, the verifier's own format):

1. :func:`open_draw` (officer) -> ``draw.roster`` + ``ceremony.deadlines``. Deadlines must satisfy
   ``now < commit_deadline < reveal_deadline < beacon publication`` (quicknet round time; for a
   福彩 draw, 00:00 China time of its ``draw_date``, which is required so the timing can be
   checked offline) and ``reveal_deadline < confirm_deadline``.
2. :func:`submit_commit` (the witness's own account) -> ``draw.commit``, while
   ``now < commit_deadline`` and before any reveal.
3. :func:`submit_reveal` -> ``draw.reveal`` once the commit phase is over (deadline passed or
   every witness committed), while ``now < reveal_deadline`` and before the beacon. A reveal
   whose secret does not hash to the commitment is refused (it could never count).
4. :func:`enter_beacon` (officer) -> ``draw.beacon`` once ``now >= reveal_deadline`` (or every
   committed witness revealed) and, for quicknet, the round's time has come; the evidence must
   be for the announced round/draw and is verified by :mod:`audit.beacon`.
5. :func:`run_draw` (officer) -> ``draw.seed`` + ``draw.result``, Placement rows (basis
   ``lottery``) and, for the private round, the 统筹 public round (``roster.public``) -- all in
   one transaction. Repeats return the stored draw (idempotent); the row lock makes two
   simultaneous presses produce one draw (exclusive); a process killed midway rolls back, and
   re-running derives the same seed from the logged values, so the same result (crash-safe).
   With fewer than ``min_reveals`` valid reveals the draw fails (``ceremony.failed``); it is
   never re-rolled.

Vacancies (:func:`respond_placement`, :func:`respond_offer`, :func:`sweep`): a declined, lapsed
or released seat is offered to the next unit down the published waitlist of the draw that holds
that seat (result.json ``schools[seat].waitlist``), skipping units already offered that seat,
units too large for the free seats (all-or-none), and units who hold a seat they rank higher.
Each step is logged (``placement.confirm|decline|lapse``, ``offer.make|accept|decline|lapse``),
so the offers can be replayed from the log in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

import lottery
from admissions.accounts.models import User
from admissions.applications.models import Application
from admissions.applications.service import check_access
from admissions.auditlog.service import append
from admissions.campaigns.freeze import eligible_applications, new_roster, plan_public
from admissions.campaigns.models import Campaign, Placement, Roster
from admissions.campaigns.service import load as load_campaign
from admissions.campaigns.service import require_city, set_phase
from admissions.ceremony.models import Draw, DrawWitness, Offer
from admissions.ceremony.schemas import (
    DrawIn,
    DrawOut,
    OfferOut,
    PlacementOut,
    StandingOut,
    SweepOut,
    WitnessOut,
)
from admissions.clock import rfc3339
from admissions.context import Context, Principal
from admissions.errors import Conflict, Forbidden, InvalidInput, NotFound, PhaseError
from audit import beacon as beaconmod
from audit import draw as drawmod
from audit import note
from audit.errors import AuditError

WITNESS_ROLES = ("witness", "notary")
ACTIVE = ("placed", "confirmed")
VACATED = ("declined", "lapsed", "released")
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): ")


# ----------------------------------------------------------------------------- helpers


def draw_id_for(campaign_id: str, round_: str) -> str:
    return f"{campaign_id}-{round_}"


def seat_of(p: Placement) -> str:
    """The lottery school id a placement occupies: ``S/pool``, ``S/reserved:cat`` or ``S``."""
    if p.pool_code:
        return f"{p.school_code}/{p.pool_code}"
    if p.basis.startswith("reserved:"):
        return f"{p.school_code}/{p.basis}"
    return p.school_code


def _split_seat(seat: str) -> tuple[str, str | None]:
    school, _, pool = seat.partition("/")
    return school, pool or None


def _audit_field(prefix: str, exc: Exception) -> InvalidInput:
    """An audit error as a 422 naming the field (audit messages start with the field)."""
    msg = str(exc)
    m = _FIELD.match(msg)
    if m:
        return InvalidInput(f"{prefix}.{m.group(1)}", msg[m.end() :])
    return InvalidInput(prefix, msg)


async def _load_draw(session: AsyncSession, draw_id: str, *, lock: bool = False) -> Draw:
    stmt = sa.select(Draw).where(Draw.id == draw_id)
    if lock:
        stmt = stmt.with_for_update()
    d = (await session.execute(stmt)).scalar_one_or_none()
    if d is None:
        raise NotFound("no such draw", "draw_id", "no such draw")
    return d


async def _witnesses(session: AsyncSession, draw_id: str) -> list[DrawWitness]:
    rows = await session.execute(
        sa.select(DrawWitness).where(DrawWitness.draw_id == draw_id).order_by(DrawWitness.key_id)
    )
    return list(rows.scalars())


def _draw_out(d: Draw, ws: list[DrawWitness], public_rosters: list[str] | None = None) -> DrawOut:
    placed = None
    if d.result is not None:
        placed = sum(1 for a in json.loads(d.result)["assignments"].values() if a is not None)
    return DrawOut(
        id=d.id,
        campaign_id=d.campaign_id,
        round=d.round,
        status=d.status,
        mechanism=d.mechanism,
        tie_breaking=d.tie_breaking,
        group_policy=d.group_policy,
        beacon=dict(d.beacon),
        min_reveals=d.min_reveals,
        commit_deadline=d.commit_deadline,
        reveal_deadline=d.reveal_deadline,
        confirm_deadline=d.confirm_deadline,
        offer_hours=d.offer_hours,
        instance_sha256=d.instance_sha256,
        schools=d.schools,
        applicants=d.applicants,
        roster_seq=d.roster_seq,
        witnesses=[
            WitnessOut(
                w.key_id,
                w.vkey,
                w.commit_note is not None,
                w.reveal_note is not None,
                w.commit_seq,
                w.reveal_seq,
            )
            for w in ws
        ],
        beacon_seq=d.beacon_seq,
        beacon_value=d.beacon_value,
        seed=d.seed,
        seed_seq=d.seed_seq,
        result_sha256=d.result_sha256,
        result_seq=d.result_seq,
        placed=placed,
        failure=d.failure,
        public_rosters=public_rosters,
    )


def _beacon_time(announced: dict[str, Any]) -> int:
    """When the announced beacon becomes known (unix seconds); 福彩 needs its draw_date."""
    published = beaconmod.beacon_publication_time(announced)
    if published is not None:
        return published
    date = announced.get("draw_date")
    if not isinstance(date, str):
        raise InvalidInput(
            "beacon.draw_date",
            "required for a welfare-lottery beacon, so the reveal deadline can be shown to "
            "precede the draw",
        )
    # The verifier's conservative bound: 00:00 of that day, China time (UTC+8).
    day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp()) - 8 * 3600


# ----------------------------------------------------------------------------- opening


async def _round_instance(
    session: AsyncSession, c: Campaign, round_: str, data: DrawIn
) -> dict[str, Any]:
    rows = await session.execute(
        sa.select(Roster)
        .where(Roster.campaign_id == c.id, Roster.round == round_)
        .order_by(Roster.id)
    )
    schools: list[dict[str, Any]] = []
    applicants: list[dict[str, Any]] = []
    for r in rows.scalars():
        doc = json.loads(r.data)
        schools += doc["schools"]
        applicants += doc["applicants"]
    schools.sort(key=lambda s: s["id"])
    applicants.sort(key=lambda a: a["id"])
    return {
        "format": "paiwei-instance/1",
        "mechanism": data.mechanism,
        "tie_breaking": data.tie_breaking,
        "group_policy": data.group_policy,
        "schools": schools,
        "applicants": applicants,
    }


async def open_draw(
    session: AsyncSession, ctx: Context, actor: Principal, campaign_id: str, data: DrawIn
) -> DrawOut:
    """Open the round's draw: fix roster, policy, witnesses, beacon and deadlines in the log."""
    require_city(actor)
    now = ctx.clock()
    try:
        beaconmod.validate_announcement(data.beacon)
    except (AuditError, ValueError) as exc:
        raise _audit_field("beacon", exc) from None
    if not now < data.commit_deadline:
        raise InvalidInput("commit_deadline", "must be in the future")
    if not data.commit_deadline < data.reveal_deadline:
        raise InvalidInput("reveal_deadline", "must be after commit_deadline")
    published = _beacon_time(dict(data.beacon))
    if not data.reveal_deadline.timestamp() < published:
        raise InvalidInput(
            "beacon",
            "the announced beacon must be published after reveal_deadline "
            f"(it is known from {rfc3339(datetime.fromtimestamp(published, UTC))})",
        )
    if not data.reveal_deadline < data.confirm_deadline:
        raise InvalidInput("confirm_deadline", "must be after reveal_deadline")
    if data.min_reveals > len(data.witnesses):
        raise InvalidInput("min_reveals", "must not exceed the number of witnesses")
    keys: list[note.VerifierKey] = []
    for i, w in enumerate(data.witnesses):
        try:
            k = note.parse_verifier_key(w.vkey)
        except AuditError as exc:
            raise InvalidInput(f"witnesses[{i}].vkey", str(exc)) from None
        if k.alg != note.ALG_ED25519:
            raise InvalidInput(f"witnesses[{i}].vkey", "must be an Ed25519 verifier key")
        keys.append(k)
    if len({k.key_id for k in keys}) != len(keys):
        raise InvalidInput("witnesses", "two witnesses have the same key ID")
    if len({w.account for w in data.witnesses}) != len(data.witnesses):
        raise InvalidInput("witnesses", "an account is named twice")
    draw_id = draw_id_for(campaign_id, data.round)
    async with session.begin():
        c = await load_campaign(session, campaign_id, lock=True)
        if c.phase != "frozen":
            raise PhaseError(
                f"draws are opened on a frozen campaign (it is {c.phase})",
                "campaign_id",
                f"campaign is {c.phase}",
            )
        existing = (
            await session.execute(sa.select(Draw.id).where(Draw.id == draw_id))
        ).scalar_one_or_none()
        if existing is not None:
            raise Conflict("this round's draw is already open", "round", "draw already open")
        if data.round == "public":
            priv = (
                await session.execute(
                    sa.select(Draw).where(Draw.id == draw_id_for(c.id, "private"))
                )
            ).scalar_one_or_none()
            if priv is None or priv.status != "drawn":
                raise PhaseError(
                    "the public round is drawn after the private round",
                    "round",
                    "private not drawn",
                )
            n = (
                await session.execute(
                    sa.select(sa.func.count(Roster.id)).where(
                        Roster.campaign_id == c.id, Roster.round == "public"
                    )
                )
            ).scalar_one()
            if n == 0:
                raise Conflict(
                    "no public school is oversubscribed: nothing to draw", "round", "no rosters"
                )
        accounts: list[User] = []
        for i, w in enumerate(data.witnesses):
            u = (
                await session.execute(sa.select(User).where(User.username == w.account))
            ).scalar_one_or_none()
            if u is None or u.role not in WITNESS_ROLES:
                raise InvalidInput(
                    f"witnesses[{i}].account", "no witness or notary account of that name"
                )
            accounts.append(u)
        instance = await _round_instance(session, c, data.round, data)
        try:
            body = drawmod.roster_body(
                draw_id,
                instance,
                beacon=dict(data.beacon),
                witnesses=[w.vkey for w in data.witnesses],
                min_reveals=data.min_reveals,
            )
        except AuditError as exc:
            raise InvalidInput("body", str(exc)) from None
        e = await append(session, ctx, "draw.roster", actor.actor, body)
        d = Draw(
            id=draw_id,
            campaign_id=c.id,
            round=data.round,
            status="open",
            mechanism=data.mechanism,
            tie_breaking=data.tie_breaking,
            group_policy=data.group_policy,
            beacon=dict(data.beacon),
            min_reveals=data.min_reveals,
            commit_deadline=data.commit_deadline,
            reveal_deadline=data.reveal_deadline,
            confirm_deadline=data.confirm_deadline,
            offer_hours=data.offer_hours,
            instance=rfc8785.dumps(instance),
            instance_sha256=str(body["instance_sha256"]),
            schools=len(instance["schools"]),
            applicants=len(instance["applicants"]),
            roster_seq=e.seq,
            opened_at=now,
        )
        session.add(d)
        ws = [
            DrawWitness(draw_id=draw_id, key_id=f"{k.key_id:08x}", vkey=k.text, account_id=u.id)
            for k, u in zip(keys, accounts, strict=True)
        ]
        session.add_all(ws)
        await append(
            session,
            ctx,
            "ceremony.deadlines",
            actor.actor,
            {
                "draw": draw_id,
                "campaign": c.id,
                "round": data.round,
                "commit_deadline": rfc3339(data.commit_deadline),
                "reveal_deadline": rfc3339(data.reveal_deadline),
                "confirm_deadline": rfc3339(data.confirm_deadline),
                "offer_hours": data.offer_hours,
            },
        )
        await session.flush()
        return _draw_out(d, sorted(ws, key=lambda w: w.key_id))


# ----------------------------------------------------------------------------- witnesses


async def _my_witness(session: AsyncSession, actor: Principal, d: Draw) -> DrawWitness:
    w = (
        await session.execute(
            sa.select(DrawWitness).where(
                DrawWitness.draw_id == d.id, DrawWitness.account_id == actor.id
            )
        )
    ).scalar_one_or_none()
    if w is None:
        raise Forbidden("this account is not a witness of the draw", "draw_id", "not a witness")
    return w


def _parse_note(signed: str, vkey: str, kind: str, d: Draw) -> drawmod.WitnessNote:
    try:
        wn = drawmod.parse_witness_note(signed, vkey, kind=kind)
    except AuditError as exc:
        raise InvalidInput("note", str(exc)) from None
    if wn.draw != d.id:
        raise InvalidInput("note", f"the note is for draw {wn.draw}, not {d.id}")
    if wn.roster.hex() != d.instance_sha256:
        raise InvalidInput("note", "the note names another roster digest than draw.roster")
    return wn


async def submit_commit(
    session: AsyncSession, ctx: Context, actor: Principal, draw_id: str, signed_note: str
) -> WitnessOut:
    """Log a witness's signed commitment (``draw.commit``); a repeat of the same note is a no-op."""
    now = ctx.clock()
    async with session.begin():
        d = await _load_draw(session, draw_id, lock=True)
        w = await _my_witness(session, actor, d)
        wn = _parse_note(signed_note, w.vkey, "commit", d)
        if w.commit_note is not None:
            if w.commit_note == signed_note:
                return _witness_out(w)
            raise Conflict("this witness has already committed", "note", "already committed")
        if d.status != "open":
            raise PhaseError("the draw is over", "draw_id", f"draw is {d.status}")
        if now >= d.commit_deadline:
            raise PhaseError("the commit deadline has passed", "note", "after commit_deadline")
        if any(x.reveal_note is not None for x in await _witnesses(session, d.id)):
            raise PhaseError("reveals have started", "note", "reveals have started")
        e = await append(
            session, ctx, "draw.commit", actor.actor, drawmod.commit_body(d.id, w.vkey, signed_note)
        )
        w.commit_note, w.commitment, w.commit_seq = signed_note, wn.value.hex(), e.seq
        return _witness_out(w)


async def submit_reveal(
    session: AsyncSession, ctx: Context, actor: Principal, draw_id: str, signed_note: str
) -> WitnessOut:
    """Log a witness's signed reveal (``draw.reveal``) after checking it opens the commitment."""
    now = ctx.clock()
    async with session.begin():
        d = await _load_draw(session, draw_id, lock=True)
        w = await _my_witness(session, actor, d)
        wn = _parse_note(signed_note, w.vkey, "reveal", d)
        if w.reveal_note is not None:
            if w.reveal_note == signed_note:
                return _witness_out(w)
            raise Conflict("this witness has already revealed", "note", "already revealed")
        if d.status != "open":
            raise PhaseError("the draw is over", "draw_id", f"draw is {d.status}")
        if w.commitment is None:
            raise PhaseError("this witness did not commit", "note", "no commitment")
        everyone = await _witnesses(session, d.id)
        if now < d.commit_deadline and any(x.commit_note is None for x in everyone):
            raise PhaseError(
                "reveals start after the commit deadline (or once every witness committed)",
                "note",
                "commit phase still open",
            )
        if now >= d.reveal_deadline or d.beacon_seq is not None:
            raise PhaseError("the reveal deadline has passed", "note", "after reveal_deadline")
        if hashlib.sha256(wn.value).hexdigest() != w.commitment:
            raise InvalidInput("note", "SHA-256 of the secret differs from the commitment")
        e = await append(
            session, ctx, "draw.reveal", actor.actor, drawmod.reveal_body(d.id, w.vkey, signed_note)
        )
        w.reveal_note, w.secret, w.reveal_seq = signed_note, wn.value.hex(), e.seq
        return _witness_out(w)


def _witness_out(w: DrawWitness) -> WitnessOut:
    return WitnessOut(
        w.key_id,
        w.vkey,
        w.commit_note is not None,
        w.reveal_note is not None,
        w.commit_seq,
        w.reveal_seq,
    )


# ----------------------------------------------------------------------------- beacon


async def enter_beacon(
    session: AsyncSession, ctx: Context, actor: Principal, draw_id: str, evidence: dict[str, Any]
) -> DrawOut:
    """Log the public randomness (``draw.beacon``) with its evidence, verified by audit.beacon."""
    require_city(actor)
    now = ctx.clock()
    async with session.begin():
        d = await _load_draw(session, draw_id, lock=True)
        ws = await _witnesses(session, d.id)
        if d.beacon_seq is not None:
            if d.beacon_evidence == evidence:
                return _draw_out(d, ws)
            raise Conflict("the beacon is already recorded", "evidence", "already recorded")
        if d.status != "open":
            raise PhaseError("the draw is over", "draw_id", f"draw is {d.status}")
        all_revealed = all(w.commit_note is None or w.reveal_note is not None for w in ws)
        if now < d.reveal_deadline and not (all_revealed and now >= d.commit_deadline):
            raise PhaseError(
                "the beacon is entered after the reveals", "evidence", "reveal phase still open"
            )
        published = beaconmod.beacon_publication_time(d.beacon)
        if published is not None and now.timestamp() < published:
            raise PhaseError(
                "the announced round is not published yet", "evidence", "beacon not yet published"
            )
        try:
            beaconmod.check_announced(d.beacon, evidence)
            value = beaconmod.beacon_value(evidence)
        except (AuditError, ValueError) as exc:
            raise _audit_field("evidence", exc) from None
        e = await append(
            session, ctx, "draw.beacon", actor.actor, drawmod.beacon_body(d.id, evidence, value)
        )
        d.beacon_evidence, d.beacon_value, d.beacon_seq = dict(evidence), value.hex(), e.seq
        return _draw_out(d, ws)


# ----------------------------------------------------------------------------- the draw


def compute_seed(d: Draw, ws: Iterable[DrawWitness]) -> tuple[bytes, list[str], list[str]]:
    """(seed, revealed key IDs, missing key IDs) from the stored (= logged) values."""
    assert d.beacon_value is not None
    reveals = [(w.key_id, bytes.fromhex(w.secret)) for w in ws if w.secret is not None]
    missing = [w.key_id for w in ws if w.commit_note is not None and w.secret is None]
    seed = drawmod.derive_seed(
        bytes.fromhex(d.instance_sha256), bytes.fromhex(d.beacon_value), reveals
    )
    return seed, [k for k, _ in reveals], missing


async def run_draw(session: AsyncSession, ctx: Context, actor: Principal, draw_id: str) -> DrawOut:
    """Derive the seed, run the lottery, store the result and placements: one transaction.

    Idempotent (a drawn draw is returned as stored), exclusive (the draw row is locked first),
    crash-safe (nothing is visible before the commit; the seed depends only on logged values).
    """
    require_city(actor)
    now = ctx.clock()
    failed: str | None = None
    async with session.begin():
        d = await _load_draw(session, draw_id, lock=True)
        ws = await _witnesses(session, d.id)
        if d.status == "drawn":
            return _draw_out(d, ws, await _public_roster_ids(session, d))
        if d.status == "failed":
            raise Conflict(f"the draw failed: {d.failure}", "draw_id", "draw failed")
        if d.beacon_value is None:
            raise PhaseError("enter the beacon first", "draw_id", "no beacon")
        c = await load_campaign(session, d.campaign_id, lock=True)
        revealed = [w for w in ws if w.secret is not None]
        if len(revealed) < d.min_reveals:
            d.status = "failed"
            d.failure = f"{len(revealed)} valid reveal(s), {d.min_reveals} required"
            await append(
                session,
                ctx,
                "ceremony.failed",
                actor.actor,
                {"draw": d.id, "reason": "too few reveals", "revealed": len(revealed)},
            )
            failed = d.failure
        else:
            seed, rev_ids, missing = compute_seed(d, ws)
            d.seed = seed.hex()
            instance = d.instance_with_seed()
            # CPU-bound: off the event loop; the transaction and row lock are held meanwhile.
            result = await asyncio.to_thread(lottery.run, instance)
            e = await append(
                session,
                ctx,
                "draw.seed",
                actor.actor,
                drawmod.seed_body(d.id, seed, rev_ids, missing),
            )
            d.seed_seq = e.seq
            body = drawmod.result_body(d.id, result)
            e = await append(session, ctx, "draw.result", actor.actor, body)
            d.result, d.result_sha256, d.result_seq = result, str(body["result_sha256"]), e.seq
            d.status, d.drawn_at = "drawn", now
            await store_placements(session, d, result, now)
            public: list[str] = []
            if d.round == "private":
                public = await plan_public_round(session, ctx, actor, c, now)
            if d.round == "public" or not public:
                await set_phase(session, ctx, actor, c, "drawn")
            await session.flush()
            return _draw_out(d, ws, public if d.round == "private" else None)
    raise Conflict(f"the draw failed: {failed}", "draw_id", "too few reveals")


async def store_placements(session: AsyncSession, d: Draw, result: bytes, now: datetime) -> int:
    """Placement rows (basis ``lottery``) for every placed applicant of a drawn result."""
    n = 0
    for number, a in sorted(json.loads(result)["assignments"].items()):
        if a is None:
            continue
        school, pool = _split_seat(a["school"])
        session.add(
            Placement(
                campaign_id=d.campaign_id,
                application_number=number,
                round=d.round,
                school_code=school,
                pool_code=pool,
                basis="lottery",
                created_at=now,
                status="placed",
            )
        )
        n += 1
    await session.flush()
    return n


async def plan_public_round(
    session: AsyncSession, ctx: Context, actor: Principal, c: Campaign, now: datetime
) -> list[str]:
    """统筹: applicants without a private seat fall back to their catchment public school
    (``freeze.plan_public``: band rank as priority). Undersubscribed schools admit directly;
    each oversubscribed one becomes a public roster for the public draw. Logged as
    ``roster.public``. Returns the public roster ids. Caller's transaction."""
    apps, schools = await eligible_applications(session, c.id)
    placed = set(
        (
            await session.execute(
                sa.select(Placement.application_number).where(
                    Placement.campaign_id == c.id,
                    Placement.round == "private",
                    Placement.status.in_(ACTIVE),
                )
            )
        ).scalars()
    )
    docs, direct = plan_public(apps, schools, placed)
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(docs, 1):
        r = new_roster(c.id, "public", i, doc, now)
        session.add(r)
        out.append(
            {"id": r.id, "sha256": r.sha256, "schools": r.schools, "applicants": r.applicants}
        )
    for number, school, pool, basis in direct:
        session.add(
            Placement(
                campaign_id=c.id,
                application_number=number,
                round="public",
                school_code=school,
                pool_code=pool,
                basis=basis,
                created_at=now,
                status="placed",
            )
        )
    await session.flush()
    await append(
        session,
        ctx,
        "roster.public",
        actor.actor,
        {
            "campaign": c.id,
            "rosters": out,
            "placements": [[n, s, p, b] for n, s, p, b in direct],
        },
    )
    return [str(r["id"]) for r in out]


async def _public_roster_ids(session: AsyncSession, d: Draw) -> list[str] | None:
    if d.round != "private":
        return None
    rows = await session.execute(
        sa.select(Roster.id)
        .where(Roster.campaign_id == d.campaign_id, Roster.round == "public")
        .order_by(Roster.id)
    )
    return list(rows.scalars())


# ----------------------------------------------------------------------------- reading


async def get_draw(session: AsyncSession, draw_id: str) -> DrawOut:
    async with session.begin():
        d = await _load_draw(session, draw_id)
        return _draw_out(d, await _witnesses(session, d.id), await _public_roster_ids(session, d))


async def list_draws(session: AsyncSession, campaign_id: str) -> list[DrawOut]:
    async with session.begin():
        await load_campaign(session, campaign_id)
        rows = await session.execute(
            sa.select(Draw).where(Draw.campaign_id == campaign_id).order_by(Draw.opened_at, Draw.id)
        )
        return [_draw_out(d, await _witnesses(session, d.id)) for d in rows.scalars()]


async def draw_files(session: AsyncSession, draw_id: str) -> tuple[bytes, bytes | None]:
    """(instance, result): the bundle's ``draws/<id>/instance.json`` and ``result.json`` bytes.
    Before the draw the instance has no seed and the result is None."""
    async with session.begin():
        d = await _load_draw(session, draw_id)
        if d.seed is None:
            return d.instance, None
        return d.instance_with_seed(), d.result


# ----------------------------------------------------------------------------- vacancies


async def _campaign_deadline(
    session: AsyncSession, campaign_id: str, field: str = "number"
) -> tuple[datetime, int]:
    """(confirm deadline, offer hours): the private draw's, announced in ceremony.deadlines."""
    d = (
        await session.execute(sa.select(Draw).where(Draw.id == draw_id_for(campaign_id, "private")))
    ).scalar_one_or_none()
    if d is None or d.status != "drawn":
        raise PhaseError("results are not out yet", field, "no results")
    return d.confirm_deadline, d.offer_hours


async def _active_placement(session: AsyncSession, app: Application) -> Placement | None:
    return (
        (
            await session.execute(
                sa.select(Placement)
                .where(
                    Placement.campaign_id == app.campaign_id,
                    Placement.application_number == app.number,
                    Placement.status.in_(ACTIVE),
                )
                .order_by(Placement.id.desc())
            )
        )
        .scalars()
        .first()
    )


def _placement_out(p: Placement) -> PlacementOut:
    return PlacementOut(
        p.application_number, p.round, p.school_code, p.pool_code, seat_of(p), p.basis, p.status
    )


def _offer_out(o: Offer) -> OfferOut:
    return OfferOut(
        o.id,
        o.application_number,
        o.draw_id,
        o.seat,
        o.position,
        o.status,
        o.offered_at,
        o.respond_by,
    )


async def standing(
    session: AsyncSession, ctx: Context, actor: Principal, number: str
) -> StandingOut:
    """An application's placements and offers (the family's own, or staff)."""
    from admissions.applications.service import load as load_app

    async with session.begin():
        app = await load_app(session, number)
        check_access(actor, app)
        return await _standing_in(session, number)


async def respond_placement(
    session: AsyncSession, ctx: Context, actor: Principal, number: str, decision: str
) -> StandingOut:
    """The family confirms or declines its seat before the confirm deadline; a decline frees
    the seat, which is offered down the waitlist at once."""
    from admissions.applications.service import load as load_app

    now = ctx.clock()
    async with session.begin():
        app = await load_app(session, number)
        check_access(actor, app)
        if actor.role != "parent":
            raise Forbidden("only the family answers", "number", "not the family")
        await load_campaign(session, app.campaign_id, lock=True)
        deadline, _ = await _campaign_deadline(session, app.campaign_id)
        p = await _active_placement(session, app)
        if p is None:
            raise Conflict("no seat to answer for", "number", "no placement")
        if p.status == "confirmed":
            if decision == "confirm":
                return await _standing_in(session, number)
            raise Conflict("the seat is already confirmed", "decision", "already confirmed")
        if now >= deadline:
            raise PhaseError("the confirmation deadline has passed", "decision", "too late")
        p.status = "confirmed" if decision == "confirm" else "declined"
        p.responded_at = now
        await append(
            session,
            ctx,
            f"placement.{decision}",
            actor.actor,
            {
                "campaign": app.campaign_id,
                "application": number,
                "round": p.round,
                "seat": seat_of(p),
            },
        )
        await session.flush()
        if decision == "decline":
            await offer_next(session, ctx, actor, app.campaign_id, seat_of(p), now)
        return await _standing_in(session, number)


async def _standing_in(session: AsyncSession, number: str) -> StandingOut:
    ps = (
        await session.execute(
            sa.select(Placement)
            .where(Placement.application_number == number)
            .order_by(Placement.id)
        )
    ).scalars()
    os_ = (
        await session.execute(
            sa.select(Offer).where(Offer.application_number == number).order_by(Offer.id)
        )
    ).scalars()
    return StandingOut(number, [_placement_out(p) for p in ps], [_offer_out(o) for o in os_])


async def respond_offer(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    number: str,
    decision: str,
    offer_id: int | None = None,
) -> StandingOut:
    """Accept or decline an outstanding waitlist offer (for the whole unit of multiples).

    Accepting confirms the new seat (Placement round ``offer-<id>``, basis ``waitlist``) and
    releases the unit's previous seat, which is offered on in turn."""
    from admissions.applications.service import load as load_app

    now = ctx.clock()
    async with session.begin():
        app = await load_app(session, number)
        check_access(actor, app)
        if actor.role != "parent":
            raise Forbidden("only the family answers", "number", "not the family")
        await load_campaign(session, app.campaign_id, lock=True)
        o = (
            (
                await session.execute(
                    sa.select(Offer)
                    .where(
                        Offer.application_number == number,
                        Offer.status == "offered",
                        *([Offer.id == offer_id] if offer_id is not None else []),
                    )
                    .order_by(Offer.id)
                )
            )
            .scalars()
            .first()
        )
        if o is None:
            field = "offer" if offer_id is not None else "number"
            raise Conflict("no such outstanding offer", field, "no outstanding offer")
        if now >= o.respond_by:
            raise PhaseError("the offer has lapsed", "decision", "too late")
        unit = list(
            (
                await session.execute(
                    sa.select(Offer).where(
                        Offer.draw_id == o.draw_id,
                        Offer.seat == o.seat,
                        Offer.offer_seq == o.offer_seq,
                        Offer.status == "offered",
                    )
                )
            ).scalars()
        )
        freed: list[str] = []
        for member in unit:
            member.status = "accepted" if decision == "accept" else "declined"
            member.responded_at = now
            if decision == "accept":
                napp = await load_app(session, member.application_number)
                old = await _active_placement(session, napp)
                if old is not None:
                    old.status, old.responded_at = "released", now
                    freed.append(seat_of(old))
                school, pool = _split_seat(member.seat)
                session.add(
                    Placement(
                        campaign_id=member.campaign_id,
                        application_number=member.application_number,
                        round=f"offer-{member.id}",
                        school_code=school,
                        pool_code=pool,
                        basis="waitlist",
                        created_at=now,
                        status="confirmed",
                        responded_at=now,
                    )
                )
        e = await append(
            session,
            ctx,
            f"offer.{decision}",
            actor.actor,
            {
                "campaign": o.campaign_id,
                "draw": o.draw_id,
                "seat": o.seat,
                "applications": sorted(m.application_number for m in unit),
                "released": sorted(set(freed)),
            },
        )
        for member in unit:
            member.response_seq = e.seq
        await session.flush()
        if decision == "decline":
            await offer_next(session, ctx, actor, o.campaign_id, o.seat, now)
        for seat in sorted(set(freed)):
            await offer_next(session, ctx, actor, o.campaign_id, seat, now)
        return await _standing_in(session, number)


async def sweep(
    session: AsyncSession, ctx: Context, actor: Principal, campaign_id: str
) -> SweepOut:
    """Officer: lapse seats not confirmed by the deadline and offers not answered in time, then
    offer every free seat down its waitlist. Deterministic given the log up to now."""
    require_city(actor)
    now = ctx.clock()
    async with session.begin():
        await load_campaign(session, campaign_id, lock=True)
        deadline, _ = await _campaign_deadline(session, campaign_id, "campaign_id")
        lapsed_p = 0
        seats: set[str] = set()
        if now >= deadline:
            rows = (
                await session.execute(
                    sa.select(Placement)
                    .where(Placement.campaign_id == campaign_id, Placement.status == "placed")
                    .order_by(Placement.application_number, Placement.id)
                )
            ).scalars()
            for p in list(rows):
                p.status, p.responded_at = "lapsed", now
                lapsed_p += 1
                seats.add(seat_of(p))
                await append(
                    session,
                    ctx,
                    "placement.lapse",
                    actor.actor,
                    {
                        "campaign": campaign_id,
                        "application": p.application_number,
                        "round": p.round,
                        "seat": seat_of(p),
                    },
                )
        offers = (
            await session.execute(
                sa.select(Offer)
                .where(
                    Offer.campaign_id == campaign_id,
                    Offer.status == "offered",
                    Offer.respond_by <= now,
                )
                .order_by(Offer.id)
            )
        ).scalars()
        lapsed_o = 0
        for o in list(offers):
            o.status, o.responded_at = "lapsed", now
            lapsed_o += 1
            seats.add(o.seat)
            e = await append(
                session,
                ctx,
                "offer.lapse",
                actor.actor,
                {
                    "campaign": campaign_id,
                    "draw": o.draw_id,
                    "seat": o.seat,
                    "applications": [o.application_number],
                },
            )
            o.response_seq = e.seq
        await session.flush()
        # every seat with a vacancy on record, in a fixed order
        vac = (
            await session.execute(
                sa.select(Placement).where(
                    Placement.campaign_id == campaign_id, Placement.status.in_(VACATED)
                )
            )
        ).scalars()
        seats |= {seat_of(p) for p in vac}
        made: list[Offer] = []
        for seat in sorted(seats):
            made += await offer_next(session, ctx, actor, campaign_id, seat, now)
        return SweepOut(lapsed_p, lapsed_o, [_offer_out(o) for o in made])


async def offer_next(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    campaign_id: str,
    seat: str,
    now: datetime,
) -> list[Offer]:
    """Offer the free seats at ``seat`` to the next units on its waitlist (caller's
    transaction). Free = vacated seats (declined, lapsed, released) minus offers outstanding
    or accepted there. Returns the offers made."""
    draws = (
        await session.execute(
            sa.select(Draw)
            .where(Draw.campaign_id == campaign_id, Draw.status == "drawn")
            .order_by(Draw.id)
        )
    ).scalars()
    d = next((x for x in draws if x.result and seat in json.loads(x.result)["schools"]), None)
    if d is None or d.result is None:
        return []  # a seat outside every draw (undersubscribed): nobody is waiting for it
    placements = list(
        (
            await session.execute(sa.select(Placement).where(Placement.campaign_id == campaign_id))
        ).scalars()
    )
    vacated = sum(1 for p in placements if p.status in VACATED and seat_of(p) == seat)
    offers = list(
        (
            await session.execute(sa.select(Offer).where(Offer.draw_id == d.id, Offer.seat == seat))
        ).scalars()
    )
    free = vacated - sum(1 for o in offers if o.status in ("offered", "accepted"))
    if free <= 0:
        return []
    inst = json.loads(d.instance)
    choices = {a["id"]: a["choices"] for a in inst["applicants"]}
    groups = {a["id"]: a.get("group") for a in inst["applicants"]}
    active = {p.application_number: p for p in placements if p.status in ACTIVE}
    offered = {o.application_number for o in offers}
    waitlist: list[str] = json.loads(d.result)["schools"][seat]["waitlist"]
    respond_by = now + timedelta(hours=d.offer_hours)
    made: list[Offer] = []
    i = 0
    while i < len(waitlist) and free > 0:
        g = groups.get(waitlist[i])
        j = i + 1
        while g is not None and j < len(waitlist) and groups.get(waitlist[j]) == g:
            j += 1
        unit, pos = waitlist[i:j], i
        i = j
        if any(n in offered for n in unit) or len(unit) > free:
            continue
        holder = active.get(unit[0])
        if holder is not None:
            held = seat_of(holder)
            ch = choices.get(unit[0], [])
            # a seat in the same draw ranked at least as high, or any private seat when this
            # is the public round: the unit does not want this one
            if held in ch and ch.index(held) <= ch.index(seat):
                continue
            if "/" in held and d.round == "public":
                continue
        body = {
            "campaign": campaign_id,
            "draw": d.id,
            "seat": seat,
            "position": pos,
            "applications": unit,
            "respond_by": rfc3339(respond_by),
        }
        e = await append(session, ctx, "offer.make", actor.actor, body)
        for n in unit:
            o = Offer(
                campaign_id=campaign_id,
                draw_id=d.id,
                seat=seat,
                application_number=n,
                position=waitlist.index(n),
                status="offered",
                offered_at=now,
                respond_by=respond_by,
                offer_seq=e.seq,
            )
            session.add(o)
            made.append(o)
        free -= len(unit)
    await session.flush()
    return made
