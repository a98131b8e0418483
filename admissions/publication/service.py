"""Publication: results per school, the family lookup, the fairness report, cosigning and the
publication bundle (docs/publication.md).

Theory of operation.

* :func:`publish` (city officer/admin; campaign ``drawn``): in ONE transaction, reads every
  completed draw's exact instance and result bytes (``admissions.ceremony.models.Draw``), builds
  the per-school tables and per-application results with :mod:`admissions.publication.tables`,
  runs the fairness check (:func:`audit.fairness.fairness_report`) -- a flagged report stops the
  publication (docs/fairness.md: "the draw must not be published") -- decrypts each record
  only to mask the child's name and to key-hash the two second factors, moves the campaign
  ``drawn -> published`` (:func:`admissions.campaigns.service.set_phase`, logged with the
  SHA-256 of the fairness report and of the published tables) and stores the signed checkpoint
  of the log right after that entry: the checkpoint notaries cosign.
* :func:`cosign` (witness/notary): accepts that checkpoint with cosignature lines added by
  ``paiwei-audit cosign``; keeps the lines that verify under a witness key of the campaign's
  draws (``draw.roster``), refuses anything else.
* :func:`export_bundle`: ``audit.bundle.write_bundle`` of the log *as the database holds it*.
  When the rows still hash to the published checkpoint, that checkpoint (with its stored
  cosignatures) is the bundle's; otherwise (the log grew, or rows were altered) the service
  signs a checkpoint of what it holds, attaches the cosignatures on file for exactly that one,
  and keeps the published checkpoint as an earlier one when it is still a prefix. A rewritten
  log therefore comes out without the witnesses' cosignatures and inconsistent with the
  notaries' kept checkpoint -- ``log.cosignatures`` / ``log.consistency`` fail in
  ``paiwei-audit verify``; an altered stored result or roster fails ``draw[id].result-entry``
  / ``draw[id].instance``. The operator's own signature is not what makes tampering visible.
* :func:`lookup` (public, rate-limited): application number + second factor -> that
  application's published result. Failures are counted per application number and per client
  in ``lookup_throttle`` (persisted; 429 once over the limit) and answered with the same 404
  whether the number exists or not.

Privacy: public tables carry the masked name (张*明), the application number, the band and the
lottery number -- never an ID number, phone, address or document. Errors and log lines never
carry personal data.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import tarfile
import tempfile
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import rfc8785
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.applications.models import Application
from admissions.applications.service import open_record
from admissions.auditlog.models import LogEntry, LogState
from admissions.campaigns.models import Campaign, Placement
from admissions.campaigns.service import load, require_city, set_phase, to_out
from admissions.clock import rfc3339
from admissions.context import Context, Principal
from admissions.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PhaseError,
    TooManyAttempts,
)
from admissions.publication.models import (
    CheckpointCosignature,
    LookupThrottle,
    Publication,
    PublishedResult,
    PublishedSchool,
)
from admissions.publication.schemas import (
    CosignOut,
    PublicationOut,
    PublishIn,
    ResultsOut,
    SchoolSummary,
)
from admissions.publication.tables import (
    REASONS,
    DrawTables,
    draw_tables,
    fairness_outcomes,
    mask_name,
)
from admissions.schools.models import School

# Lookup throttling: failures per application number and per client within the window, and per
# application number within a day. The factor has 10^4 values: the daily cap makes guessing one
# family's factor take on average ~500 days, whatever the number of clients.
LOOKUP_WINDOW = timedelta(minutes=15)
LOOKUP_MAX_PER_NUMBER = 5
LOOKUP_MAX_PER_CLIENT = 30
LOOKUP_DAY = timedelta(days=1)
LOOKUP_MAX_PER_NUMBER_DAY = 10


def _canon(value: Any) -> bytes:
    return rfc8785.dumps(value)


def factor_check(ctx: Context, number: str, kind: str, last4: str) -> str:
    """Keyed hash of a second factor: HMAC-SHA256(blind-index key, "paiwei-lookup/1" 0x00 number
    0x00 kind 0x00 last4). Stored instead of the factor; the key never leaves the service."""
    msg = b"\x00".join(x.encode() for x in ("paiwei-lookup/1", number, kind, last4.strip().upper()))
    return hmac.new(ctx.settings.blind_index_key, msg, hashlib.sha256).hexdigest()


def _last4_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:]


async def _completed_draws(session: AsyncSession, campaign_id: str) -> list[Any]:
    from admissions.ceremony.models import Draw

    rows = await session.execute(
        sa.select(Draw)
        .where(Draw.campaign_id == campaign_id, Draw.status == "drawn")
        .order_by(Draw.roster_seq)
    )
    return list(rows.scalars())


async def _witness_keys(session: AsyncSession, campaign_id: str) -> list[str]:
    from admissions.ceremony.models import Draw, DrawWitness

    rows = await session.execute(
        sa.select(DrawWitness.vkey)
        .join(Draw, Draw.id == DrawWitness.draw_id)
        .where(Draw.campaign_id == campaign_id)
    )
    return sorted({v for (v,) in rows})


def _band_labels(schools: dict[str, School]) -> dict[tuple[str, int], str]:
    """(lottery school id, priority) -> band code; public schools' bands (rank = priority)."""
    out: dict[tuple[str, int], str] = {}
    for s in schools.values():
        for b in s.bands:
            out[(s.code, int(b["rank"]))] = str(b["code"])
    return out


def _school_of(sid: str) -> tuple[str, str | None]:
    """Lottery school id -> (school code, pool or reserved section)."""
    code, _, section = sid.partition("/")
    return code, section or None


def _cutoff_json(t: DrawTables, sid: str, bands: dict[tuple[str, int], str]) -> Any:
    c = t.schools[sid].cutoff
    if c is None:
        return None
    return {
        "band": bands.get((sid, c.band), ""),
        "band_rank": c.band,
        "lottery_number": c.lottery_number,
        "choice": c.choice,
    }


def _build(
    c: Campaign,
    apps: list[Application],
    names: dict[str, str],
    schools: dict[str, School],
    placements: list[Placement],
    tables: list[DrawTables],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(per-school tables, per-application results) as JSON values."""
    bands = _band_labels(schools)
    by_number = {a.number: a for a in apps}
    placed: dict[str, Placement] = {}
    # Only "placed" and "confirmed" rows hold a seat (ceremony: declined/lapsed/released do not).
    holding = [p for p in placements if p.status in ("placed", "confirmed")]
    for p in sorted(holding, key=lambda p: (p.round != "private", p.id or 0)):
        placed.setdefault(p.application_number, p)

    def person(number: str) -> dict[str, str]:
        return {"application": number, "name": names.get(number, "*")}

    sections: dict[str, list[dict[str, Any]]] = defaultdict(list)
    draw_of: dict[str, str] = {}
    for t in tables:
        for sid, table in sorted(t.schools.items()):
            code, section = _school_of(sid)
            draw_of[sid] = t.draw

            def row(r: Any, sid: str = sid) -> dict[str, Any]:
                return {
                    **person(r.application),
                    "band": bands.get((sid, r.band), ""),
                    "lottery_number": r.lottery_number,
                    "choice": r.choice,
                }

            sections[code].append(
                {
                    "id": sid,
                    "section": section,
                    "draw": t.draw,
                    "capacity": table.capacity,
                    "applicants": table.applicants,
                    "cutoff": _cutoff_json(t, sid, bands),
                    "admitted": [row(r) for r in table.admitted],
                    "waitlist": [
                        {"position": i, **row(r)} for i, r in enumerate(table.waitlist, 1)
                    ],
                }
            )
    listed: dict[str, set[str]] = defaultdict(set)
    for a in apps:
        if a.status != "active" or a.review_status != "eligible":
            continue
        if a.choices.get("public"):
            listed[a.choices["public"]].add(a.number)
        for ch in a.choices.get("private", []):
            listed[ch["school"]].add(a.number)
    school_tables: dict[str, dict[str, Any]] = {}
    for code, s in sorted(schools.items()):
        here = sorted(
            (p for p in placed.values() if p.school_code == code),
            key=lambda p: p.application_number,
        )
        direct = [
            {
                **person(p.application_number),
                "pool": p.pool_code,
                "basis": p.basis,
                "round": p.round,
            }
            for p in here
            if p.basis != "lottery"
        ]
        school_tables[code] = {
            "campaign": c.id,
            "school": code,
            "name": s.name,
            "district": s.district,
            "kind": s.kind,
            "seats": s.plan,
            "applicants": len(listed.get(code, ())),
            "admitted": len(here),
            "sections": sections.get(code, []),
            "direct": direct,
        }
    # per-application results
    standings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tables:
        for aid, sts in t.standings.items():
            unit = t.units[aid]
            standings[aid].append(
                {
                    "draw": t.draw,
                    "mechanism": t.mechanism,
                    "ticket": t.tickets.get(unit),
                    "schools": [
                        {
                            "school": s.school,
                            "choice": s.choice,
                            "band": bands.get((s.school, s.band), ""),
                            "lottery_number": s.lottery_number,
                            "outcome": s.outcome,
                            "reason": s.reason,
                            "explanation": REASONS[s.reason],
                            "waitlist_position": s.waitlist_position,
                            "cutoff": _cutoff_json(t, s.school, bands),
                        }
                        for s in sts
                    ],
                }
            )
    results: dict[str, dict[str, Any]] = {}
    for number, a in sorted(by_number.items()):
        pl = placed.get(number)
        if a.status != "active":
            status = "withdrawn"
        elif a.review_status != "eligible":
            status = "ineligible"
        elif pl is not None:
            status = "admitted"
        else:
            status = "not-admitted"
        results[number] = {
            "campaign": c.id,
            **person(number),
            "status": status,
            "placement": None
            if pl is None
            else {
                "school": pl.school_code,
                "school_name": schools[pl.school_code].name if pl.school_code in schools else "",
                "pool": pl.pool_code,
                "basis": pl.basis,
                "round": pl.round,
            },
            "draws": standings.get(number, []),
        }
    return school_tables, results


async def publish(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    campaign_id: str,
    ack: PublishIn | None = None,
) -> PublicationOut:
    """Publish a drawn campaign (module docstring). One transaction; a missing draw, or a flagged
    fairness report that ``ack`` does not acknowledge test by test, refuses with 409 and changes
    nothing. An acknowledged flag is published as it is, with the acknowledgement in the log."""
    from audit.checkpoint import sign_checkpoint
    from audit.fairness import fairness_report
    from audit.merkle import CompactRange

    require_city(actor)
    now = ctx.clock()
    async with session.begin():
        c = await load(session, campaign_id, lock=True)
        if c.phase != "drawn":
            raise PhaseError(
                f"only a drawn campaign can be published (it is {c.phase})",
                "campaign_id",
                f"campaign is {c.phase}",
            )
        draws = await _completed_draws(session, c.id)
        files = [(d.id, d.instance_with_seed(), d.result or b"") for d in draws]
        # CPU-bound and pure: off the event loop (plain bytes in, plain values out).
        tables = await asyncio.to_thread(lambda: [draw_tables(*f) for f in files])
        apps = list(
            (
                await session.execute(sa.select(Application).where(Application.campaign_id == c.id))
            ).scalars()
        )
        schools = {
            s.code: s
            for s in (
                await session.execute(sa.select(School).where(School.campaign_id == c.id))
            ).scalars()
        }
        placements = list(
            (
                await session.execute(sa.select(Placement).where(Placement.campaign_id == c.id))
            ).scalars()
        )
        # Decrypt each record once: the masked name and the keyed second-factor hashes only.
        names: dict[str, str] = {}
        checks: dict[str, tuple[str, str]] = {}
        for a in apps:
            rec = open_record(ctx, a)["record"]
            names[a.number] = mask_name(str(rec["child"]["name"]))
            checks[a.number] = (
                factor_check(ctx, a.number, "phone", _last4_phone(str(rec["guardian"]["phone"]))),
                factor_check(ctx, a.number, "id_number", str(rec["child"]["id_number"])[-4:]),
            )
            del rec
        outcomes = fairness_outcomes(
            tables,
            district={a.number: a.district for a in apps},
            registration_day={a.number: max(0, (a.created_at - c.open_at).days) for a in apps},
            band_label=_band_labels(schools),
        )
        if outcomes:
            report = await asyncio.to_thread(fairness_report, outcomes)
            fairness, flagged_any = report.to_json(), report.flagged
        else:
            # No lottery decided anything (every choice undersubscribed): nothing to test.
            fairness, flagged_any = (
                _canon(
                    {
                        "format": "paiwei-fairness/1",
                        "records": 0,
                        "units": 0,
                        "admitted": 0,
                        "flagged": False,
                        "rates": {},
                        "tests": [],
                        "note": "no lottery draw in this campaign: nothing to test",
                    }
                ),
                False,
            )
        acknowledged = _acknowledged(report.tests if flagged_any else (), ack)
        school_tables, results = _build(c, apps, names, schools, placements, tables)
        tables_bytes = {code: _canon(t) for code, t in school_tables.items()}
        seq = await set_phase(
            session,
            ctx,
            actor,
            c,
            "published",
            {
                "draws": [d.id for d in draws],
                "fairness_sha256": hashlib.sha256(fairness).hexdigest(),
                "fairness_flagged": flagged_any,
                **acknowledged,
                "schools_sha256": hashlib.sha256(
                    _canon({k: hashlib.sha256(v).hexdigest() for k, v in tables_bytes.items()})
                ).hexdigest(),
            },
        )
        state = await session.get(LogState, 1)
        assert state is not None
        h = state.hashes
        edge = CompactRange(state.size, [h[i : i + 32] for i in range(0, len(h), 32)])
        checkpoint = sign_checkpoint(
            ctx.settings.log_origin, edge.size, edge.root(), ctx.settings.log_signing_key
        )
        session.add(
            Publication(
                campaign_id=c.id,
                published_at=now,
                log_seq=seq,
                log_size=edge.size,
                checkpoint=checkpoint,
                fairness=fairness,
                fairness_flagged=flagged_any,
                draws=[d.id for d in draws],
            )
        )
        for code, data in tables_bytes.items():
            session.add(PublishedSchool(campaign_id=c.id, code=code, data=data))
        for number, value in results.items():
            session.add(
                PublishedResult(
                    campaign_id=c.id,
                    application_number=number,
                    data=_canon(value),
                    phone_check=checks[number][0],
                    id_check=checks[number][1],
                )
            )
        await session.flush()
        out = PublicationOut(
            campaign=to_out(c, seq),
            published_at=now,
            log_seq=seq,
            log_size=edge.size,
            checkpoint=checkpoint,
            draws=[d.id for d in draws],
            fairness_flagged=flagged_any,
            schools=len(tables_bytes),
            results=len(results),
        )
    return out


def _acknowledged(tests: Any, ack: PublishIn | None) -> dict[str, object]:
    """The log fields of an acknowledged flag ({} when nothing is flagged), or the 409 that
    stops the publication: a flag must be named test by test, after an investigation."""
    flagged = sorted(t.name for t in tests if t.flagged)
    if not flagged:
        if ack is not None:
            raise Conflict(
                "the fairness check flagged nothing: publish without acknowledge_flags",
                "acknowledge_flags",
                "nothing is flagged",
            )
        return {}
    names = ", ".join(flagged)
    if ack is None:
        raise Conflict(
            f"the fairness check flagged {names}; do not publish before comparing the draw with "
            "an independent recomputation (paiwei-audit verify). Then publish with "
            "acknowledge_flags naming exactly these tests and the reason (docs/fairness.md)",
            "fairness",
            f"flagged: {names}",
        )
    if sorted(set(ack.acknowledge_flags)) != flagged:
        raise Conflict(
            f"acknowledge_flags must name exactly the flagged tests: {names}",
            "acknowledge_flags",
            f"flagged: {names}",
        )
    if len(ack.reason.strip()) < 20:
        raise InvalidInput("reason", "say what the investigation found (at least 20 characters)")
    return {"flags_acknowledged": flagged, "acknowledgement": ack.reason.strip()}


async def _publication(session: AsyncSession, campaign_id: str) -> Publication:
    await load(session, campaign_id)
    pub = await session.get(Publication, campaign_id)
    if pub is None:
        raise PhaseError("results are not published yet", "campaign_id", "not published")
    return pub


async def results(session: AsyncSession, campaign_id: str) -> ResultsOut:
    """Summary of every school's published table (public)."""
    async with session.begin():
        pub = await _publication(session, campaign_id)
        rows = await session.execute(
            sa.select(PublishedSchool.data)
            .where(PublishedSchool.campaign_id == campaign_id)
            .order_by(PublishedSchool.code)
        )
        summaries = []
        for (data,) in rows:
            t = json.loads(data)
            summaries.append(
                SchoolSummary(
                    school=t["school"],
                    name=t["name"],
                    district=t["district"],
                    kind=t["kind"],
                    seats=t["seats"],
                    applicants=t["applicants"],
                    admitted=t["admitted"],
                    waitlist=sum(len(s["waitlist"]) for s in t["sections"]),
                    cutoffs={s["id"]: s["cutoff"] for s in t["sections"]},
                )
            )
        return ResultsOut(campaign_id, pub.published_at, pub.log_size, list(pub.draws), summaries)


async def school_table(session: AsyncSession, campaign_id: str, code: str) -> bytes:
    """One school's published table: the exact stored RFC 8785 bytes (public)."""
    async with session.begin():
        await _publication(session, campaign_id)
        data = (
            await session.execute(
                sa.select(PublishedSchool.data).where(
                    PublishedSchool.campaign_id == campaign_id, PublishedSchool.code == code
                )
            )
        ).scalar_one_or_none()
    if data is None:
        raise NotFound("no such school in this campaign", "code", "no such school")
    return data


async def fairness(session: AsyncSession, campaign_id: str) -> bytes:
    """The published fairness report (paiwei-fairness/1, RFC 8785 bytes)."""
    async with session.begin():
        return (await _publication(session, campaign_id)).fairness


def _dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT (both have ``on_conflict_do_nothing``)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


async def _throttle_rows(session: AsyncSession, keys: list[str], now: Any) -> list[LookupThrottle]:
    """Lock (creating if needed) the throttle rows of ``keys``, windows reset when expired."""
    insert = _dialect_insert(session)
    await session.execute(
        insert(LookupThrottle)
        .values([{"key": k, "failures": 0, "window_start": now} for k in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = list(
        (
            await session.execute(
                sa.select(LookupThrottle)
                .where(LookupThrottle.key.in_(keys))
                .order_by(LookupThrottle.key)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    for r in rows:
        window = LOOKUP_DAY if r.key.startswith("d:") else LOOKUP_WINDOW
        if now - r.window_start >= window:
            r.failures, r.window_start = 0, now
    return rows


async def lookup(
    session: AsyncSession,
    ctx: Context,
    campaign_id: str,
    number: str,
    kind: str,
    last4: str,
    client: str,
) -> bytes:
    """A family's own published result (RFC 8785 bytes), given its application number and the
    last four characters of the guardian's phone or the child's ID number.

    Rate limit (persisted in ``lookup_throttle``): at most LOOKUP_MAX_PER_NUMBER failures per
    application number and LOOKUP_MAX_PER_CLIENT per client (a keyed hash of its address) per
    LOOKUP_WINDOW, and LOOKUP_MAX_PER_NUMBER_DAY per application number per LOOKUP_DAY; beyond
    that 429 before any check. A wrong factor and an unknown number give
    the same 404; the failure is committed before the refusal.
    """
    if kind not in ("phone", "id_number"):
        raise InvalidInput("kind", "must be phone or id_number")
    now = ctx.clock()
    client_key = (
        "c:"
        + hmac.new(
            ctx.settings.blind_index_key, b"client\x00" + client.encode(), hashlib.sha256
        ).hexdigest()[:40]
    )
    number_key = f"n:{campaign_id}:{number}"
    day_key = f"d:{campaign_id}:{number}"
    async with session.begin():
        await _publication(session, campaign_id)
        keys = [client_key, number_key, day_key]
        rows = {r.key: r for r in await _throttle_rows(session, keys, now)}
        if rows[day_key].failures >= LOOKUP_MAX_PER_NUMBER_DAY:
            raise TooManyAttempts(
                "too many failed lookups for this application today; try again tomorrow",
                "application",
                "locked for the day",
            )
        if rows[number_key].failures >= LOOKUP_MAX_PER_NUMBER:
            raise TooManyAttempts(
                "too many failed lookups for this application; try again later",
                "application",
                "temporarily locked",
            )
        if rows[client_key].failures >= LOOKUP_MAX_PER_CLIENT:
            raise TooManyAttempts(
                "too many failed lookups; try again later", "application", "temporarily locked"
            )
        res = (
            await session.execute(
                sa.select(PublishedResult).where(
                    PublishedResult.campaign_id == campaign_id,
                    PublishedResult.application_number == number,
                )
            )
        ).scalar_one_or_none()
        given = factor_check(ctx, number, kind, last4)
        stored = (res.phone_check if kind == "phone" else res.id_check) if res else "0" * 64
        if res is not None and hmac.compare_digest(given, stored):
            rows[number_key].failures = 0
            out = json.loads(res.data)
            out["current"] = await _current(session, campaign_id, number, now)
            return _canon(out)
        for key in keys:
            rows[key].failures += 1
    raise NotFound(
        "no published result matches this application number and check",
        "application",
        "no match",
    )


async def _current(session: AsyncSession, campaign_id: str, number: str, now: Any) -> Any:
    """The seat the application holds *now* (waitlist offers and declines after publication
    change it; the published part of the answer is the snapshot at publication)."""
    rows = await session.execute(
        sa.select(Placement)
        .where(
            Placement.campaign_id == campaign_id,
            Placement.application_number == number,
            Placement.status.in_(("placed", "confirmed")),
        )
        .order_by(Placement.id)
    )
    held = rows.scalars().first()
    return {
        "as_of": rfc3339(now),
        "placement": None
        if held is None
        else {
            "school": held.school_code,
            "pool": held.pool_code,
            "basis": held.basis,
            "round": held.round,
            "status": held.status,
        },
    }


async def published_checkpoint(session: AsyncSession, campaign_id: str) -> str:
    """The publication checkpoint with every cosignature on file (public)."""
    from audit import note
    from audit.checkpoint import parse_checkpoint

    async with session.begin():
        pub = await _publication(session, campaign_id)
        parsed = note.parse_note(pub.checkpoint)
        cp = parse_checkpoint(parsed.text)
        lines = await _cosignature_lines(session, cp.size, cp.root.hex())
    return _with_lines(pub.checkpoint, lines)


async def _cosignature_lines(session: AsyncSession, size: int, root: str) -> list[str]:
    rows = await session.execute(
        sa.select(CheckpointCosignature.line)
        .where(CheckpointCosignature.size == size, CheckpointCosignature.root == root)
        .order_by(CheckpointCosignature.key_name, CheckpointCosignature.key_id)
    )
    return [line for (line,) in rows]


def _with_lines(signed: str, lines: list[str]) -> str:
    return signed + "".join(line + "\n" for line in lines)


async def cosign(
    session: AsyncSession, ctx: Context, actor: Principal, campaign_id: str, cosigned: str
) -> CosignOut:
    """Store the cosignatures a witness/notary added to the publication checkpoint (or, once
    the log has grown after publication, to its current checkpoint, ``GET /log/checkpoint``).

    The note's text must be one of those two, signed by the log; each cosignature
    line by a witness key of the campaign's draws must verify (a bad one refuses the whole
    submission, C2SP signed-note); lines by unknown keys are refused too. Idempotent.
    """
    from audit import note
    from audit.checkpoint import parse_checkpoint, verify_checkpoint
    from audit.cosignature import cosigner_vkey, verify_cosignatures
    from audit.errors import AuditError

    if actor.role not in ("witness", "notary", "admin"):
        raise Forbidden("only witnesses and notaries cosign", "checkpoint", "not a witness")
    now = ctx.clock()
    async with session.begin():
        pub = await _publication(session, campaign_id)
        keys = await _witness_keys(session, campaign_id)
        try:
            parsed = note.parse_note(cosigned)
            log_vkey = note.verifier_key_text(ctx.settings.log_signing_key)
            verify_checkpoint(cosigned, [log_vkey])
        except AuditError as exc:
            raise InvalidInput(
                "checkpoint", f"not a checkpoint signed by this log ({exc})"
            ) from None
        cp = parse_checkpoint(parsed.text)
        if parsed.text != note.parse_note(pub.checkpoint).text:
            # After publication the log grows (waitlist offers ...): the checkpoint of the log
            # as it is now (GET /log/checkpoint) may be cosigned too, for later bundles.
            from audit.merkle import CompactRange

            state = (
                await session.execute(sa.select(LogState).where(LogState.id == 1))
            ).scalar_one()
            h = state.hashes
            edge = CompactRange(state.size, [h[i : i + 32] for i in range(0, len(h), 32)])
            if (cp.size, cp.root) != (edge.size, edge.root()) or cp.size < pub.log_size:
                raise InvalidInput(
                    "checkpoint",
                    "neither the publication checkpoint nor the log's current checkpoint",
                )
        try:
            found = verify_cosignatures(cosigned, keys, now=int(now.timestamp()))
        except AuditError as exc:
            raise InvalidInput("checkpoint", f"a cosignature does not verify ({exc})") from None
        log_key = note.parse_verifier_key(log_vkey)
        known = {
            (k.name, k.key_id) for k in (note.parse_verifier_key(cosigner_vkey(v)) for v in keys)
        }
        for sig in parsed.signatures:
            if (sig.name, sig.key_id) == (log_key.name, log_key.key_id):
                continue
            if (sig.name, sig.key_id) not in known:
                raise InvalidInput(
                    "checkpoint", f"cosignature by {sig.name}, not a witness of this campaign"
                )
        if not found:
            raise InvalidInput("checkpoint", "no cosignature by a witness of this campaign")
        root = cp.root.hex()
        existing = {
            (r.key_name, r.key_id)
            for r in (
                await session.execute(
                    sa.select(CheckpointCosignature).where(
                        CheckpointCosignature.size == cp.size, CheckpointCosignature.root == root
                    )
                )
            ).scalars()
        }
        accepted: list[str] = []
        lines = {(s.name, s.key_id): s for s in parsed.signatures}
        for cs in found:
            kid = f"{cs.key_id:08x}"
            if (cs.name, kid) in existing:
                continue
            sig = lines[(cs.name, cs.key_id)]
            session.add(
                CheckpointCosignature(
                    size=cp.size,
                    root=root,
                    key_name=cs.name,
                    key_id=kid,
                    line=sig.line.rstrip("\n"),
                    timestamp=cs.timestamp,
                    created_at=now,
                )
            )
            accepted.append(cs.name)
        await session.flush()
        every = sorted({n for n, _ in existing} | set(accepted))
    return CosignOut(cp.size, root, sorted(accepted), every)


async def export_bundle(
    session: AsyncSession, ctx: Context, campaign_id: str, directory: str | Path
) -> Path:
    """Write the campaign's paiwei-bundle/1 into ``directory`` (module docstring) and return it.

    Draw files: each published draw's instance (the stored roster + the logged seed and
    policy) and its stored result bytes. Witness keys: those of the campaign's draws.
    """
    from audit import note
    from audit.bundle import DrawFiles, write_bundle
    from audit.checkpoint import parse_checkpoint, sign_checkpoint
    from audit.merkle import CompactRange, leaf_hash

    async with session.begin():
        pub = await _publication(session, campaign_id)
        from admissions.ceremony.models import Draw

        entries = [
            e for (e,) in await session.execute(sa.select(LogEntry.entry).order_by(LogEntry.seq))
        ]
        draws = {
            d.id: DrawFiles(d.instance_with_seed(), d.result or b"")
            for d in (
                await session.execute(sa.select(Draw).where(Draw.id.in_(list(pub.draws))))
            ).scalars()
        }
        keys = await _witness_keys(session, campaign_id)
        published = parse_checkpoint(note.parse_note(pub.checkpoint).text)
        pub_lines = await _cosignature_lines(session, published.size, published.root.hex())
        tree = CompactRange()
        prefix_root = None
        for raw in entries:
            tree.append(leaf_hash(raw))
            if tree.size == published.size:
                prefix_root = tree.root()
        size, root = tree.size, tree.root()
        earlier: list[str] = []
        if (size, root) == (published.size, published.root):
            checkpoint = _with_lines(pub.checkpoint, pub_lines)
        else:
            signed = sign_checkpoint(
                ctx.settings.log_origin, size, root, ctx.settings.log_signing_key
            )
            checkpoint = _with_lines(signed, await _cosignature_lines(session, size, root.hex()))
            if prefix_root == published.root:
                earlier.append(_with_lines(pub.checkpoint, pub_lines))
    log_vkey = note.verifier_key_text(ctx.settings.log_signing_key)
    return await asyncio.to_thread(
        write_bundle,
        directory,
        origin=ctx.settings.log_origin,
        entries=entries,
        checkpoint=checkpoint,
        draws=draws,
        log_vkey=log_vkey,
        witness_vkeys=keys,
        checkpoints=earlier,
    )


def _tar(directory: Path, name: str) -> bytes:
    """A deterministic .tar.gz of the bundle directory (sorted names, zero mtimes/owners)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in [directory, *sorted(directory.rglob("*"))]:
            info = tar.gettarinfo(str(path), arcname=str(Path(name) / path.relative_to(directory)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


async def bundle_archive(session: AsyncSession, ctx: Context, campaign_id: str) -> bytes:
    """The bundle as a .tar.gz whose top directory is ``<campaign>-bundle``."""
    with tempfile.TemporaryDirectory(prefix="paiwei-bundle-") as tmp:
        path = await export_bundle(session, ctx, campaign_id, Path(tmp) / "bundle")
        return await asyncio.to_thread(_tar, path, f"{campaign_id}-bundle")
