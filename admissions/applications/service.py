"""Applications: registration, edit, withdrawal, twin bundling; owner/district access rules.

Registration (one transaction): validate the ID number (GB 11643-1999 check digit via
python-stdnum, birth date and sex derived from it) and the age rule; lock the campaign row for
share and check the window; check choices and claims against the campaign's schools and rules;
encrypt the personal record; insert with the ID number's blind index as ``active_index`` (the
unique constraint makes a concurrent duplicate fail cleanly -> 409); append
``application.register`` to the log with the application number, choices, claims and
``SHA-256(salt || RFC 8785(personal record))``; commit. The salt goes back to the family in the
receipt and is kept only inside the encrypted envelope.
"""

from __future__ import annotations

import functools
import json
import secrets
from datetime import date
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from admissions.applications.batch import DUPLICATE, Registration, Written, batcher
from admissions.applications.models import Application
from admissions.applications.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationUpdate,
    Choices,
    ClaimIn,
    ClaimOut,
    Facts,
    Guardian,
    PersonalOut,
    Receipt,
    ReceiptOut,
)
from admissions.auditlog.models import LogEntry
from admissions.auditlog.service import enqueue, sequenced
from admissions.campaigns.models import Campaign
from admissions.campaigns.schemas import Rules
from admissions.campaigns.service import load as load_campaign
from admissions.campaigns.service import require_window, rules_of
from admissions.context import Context, Principal
from admissions.errors import Conflict, Forbidden, InvalidInput, NotFound
from admissions.schemas import Page
from admissions.schools.models import School
from admissions.schools.service import schools_of
from audit.registration import SALT_SIZE, record_digest

# Crockford base32 without I, L, O, U: unambiguous when read aloud or typed.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_number() -> str:
    """Opaque, non-sequential application number: 60 random bits as XXXX-XXXX-XXXX."""
    n = secrets.randbits(60)  # one CSPRNG call; 5 bits per character, uniform like 12 choices
    s = "".join(_ALPHABET[(n >> (5 * i)) & 31] for i in range(12))
    return f"{s[:4]}-{s[4:8]}-{s[8:]}"


def compact_id(value: str) -> str:
    """``stdnum.cn.ric.compact``: look-alike characters mapped to ASCII, upper case, stripped.
    Done directly for the usual all-ASCII input (of ASCII characters stdnum maps only "`" to
    "'"): the same result (property-tested), several times cheaper."""
    if value.isascii():
        return value.replace("`", "'").upper().strip()
    return ric.compact(value)


def parse_id_number(value: str) -> tuple[str, date, str]:
    """Validate a GB 11643-1999 citizen ID number (python-stdnum ``stdnum.cn.ric``: 17 digits,
    ISO 7064 MOD 11-2 check character, a real birth date, a region code that existed in the
    birth year); return (number, birth date, sex: 17th digit odd = male).
    Errors name the field and the rule, never the value."""
    field = "child.id_number"
    number = compact_id(value)
    if len(number) != 18:
        raise InvalidInput(field, "must have 18 characters")
    if not number[:17].isdigit() or not number[:17].isascii() or number[17] not in "0123456789X":
        raise InvalidInput(field, "must be 17 digits followed by a digit or X")
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidInput(field, "check digit does not match (GB 11643-1999)")
    try:
        birth = ric.get_birth_date(number)
    except (InvalidComponent, ValueError):
        raise InvalidInput(field, "contains an impossible birth date") from None
    if not _region_known(number[:6], birth.year):
        raise InvalidInput(field, "unknown region code (first 6 digits) for the birth year")
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return number, birth, sex


@functools.lru_cache(maxsize=8192)
def _region_known(region: str, year: int) -> bool:
    """stdnum's region lookup (a database search) for a region code and birth year, cached."""
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000" + "0")
    except InvalidComponent:
        return False
    return True


def check_age(birth: date, year: int, rules: Rules) -> None:
    """At least ``min_age`` on the cut-off day of the campaign year, and not older than
    ``min_age + max_deferral_years`` on that day."""
    try:
        youngest = date(year - rules.min_age, rules.cutoff_month, rules.cutoff_day)
        oldest_excl = date(
            year - rules.min_age - rules.max_deferral_years - 1,
            rules.cutoff_month,
            rules.cutoff_day,
        )
    except ValueError:  # 29 Feb cut-off in a non-leap year
        youngest = date(year - rules.min_age, rules.cutoff_month, 28)
        oldest_excl = date(
            year - rules.min_age - rules.max_deferral_years - 1, rules.cutoff_month, 28
        )
    if birth > youngest:
        raise InvalidInput(
            "child.id_number",
            f"child is younger than {rules.min_age} on "
            f"{year}-{rules.cutoff_month:02d}-{rules.cutoff_day:02d}",
        )
    if birth <= oldest_excl:
        raise InvalidInput("child.id_number", "child is older than the age rule allows")


def check_district(district: str, schools: dict[str, School]) -> None:
    """The district of residence decides which officers review the application: it must be a
    district of the campaign (one with a school in it), or no district officer would see it."""
    if not any(s.district == district for s in schools.values()):
        raise InvalidInput("district", "no school of this campaign is in this district")


def check_choices(
    choices: Choices, claims: list[ClaimIn], facts: Facts, schools: dict[str, School], rules: Rules
) -> None:
    if choices.public is None and not choices.private:
        raise InvalidInput("choices", "choose at least one school")
    if choices.public is not None:
        if rules.max_public < 1:
            raise InvalidInput("choices.public", "this campaign has no public choice")
        s = schools.get(choices.public)
        if s is None:
            raise InvalidInput("choices.public", "no such school in this campaign")
        if s.kind != "public":
            raise InvalidInput("choices.public", "is not a public school")
        if facts.catchment is None or facts.catchment not in s.catchments:
            raise InvalidInput("choices.public", "the family's catchment is not this school's")
    if len(choices.private) > rules.max_private:
        raise InvalidInput("choices.private", f"at most {rules.max_private} private choices")
    seen: set[str] = set()
    for i, pc in enumerate(choices.private):
        f = f"choices.private[{i}]"
        s = schools.get(pc.school)
        if s is None:
            raise InvalidInput(f"{f}.school", "no such school in this campaign")
        if s.kind != "private":
            raise InvalidInput(f"{f}.school", "is not a private school")
        if pc.school in seen:
            raise InvalidInput(f"{f}.school", "school chosen twice")
        seen.add(pc.school)
        if pc.pool not in {p["code"] for p in s.pools}:
            raise InvalidInput(f"{f}.pool", "no such pool at this school")
    claimed: set[tuple[str, str, str]] = set()
    for i, cl in enumerate(claims):
        f = f"claims[{i}]"
        key = (cl.kind, cl.school, cl.code)
        if key in claimed:
            raise InvalidInput(f, "duplicate claim")
        claimed.add(key)
        s = schools.get(cl.school)
        if s is None:
            raise InvalidInput(f"{f}.school", "no such school in this campaign")
        if cl.kind == "reserved":
            if cl.school not in seen:
                raise InvalidInput(f"{f}.school", "claims a reserved seat at a school not chosen")
            if cl.code not in {r["category"] for r in s.reserved}:
                raise InvalidInput(f"{f}.code", "no such reserved category at this school")
        else:
            if cl.school != choices.public:
                raise InvalidInput(f"{f}.school", "claims a band at a school not chosen")
            if cl.code not in {b["code"] for b in s.bands}:
                raise InvalidInput(f"{f}.code", "no such priority band at this school")


async def _schools(session: AsyncSession, ctx: Context, c: Campaign) -> dict[str, School]:
    """The campaign's schools; cached once the campaign has left ``draft``, since schools can
    only be added to a draft campaign (schools.service.create checks under the row lock)."""
    cached = ctx.schools_cache.get(c.id)
    if cached is not None:
        return cached
    schools = await schools_of(session, c.id)
    if c.phase != "draft":
        for s in schools.values():
            session.expunge(s)
        ctx.schools_cache[c.id] = schools
    return schools


def _claims_public(claims: list[ClaimIn]) -> list[dict[str, Any]]:
    return [
        {"kind": c.kind, "school": c.school, "code": c.code, "status": "pending", "reason": None}
        for c in claims
    ]


def _log_claims(claims: list[dict[str, Any]]) -> dict[str, object]:
    """Claims as the log records them: ``{"reserved": ["SCHOOL:CATEGORY"], "band": [...]}``."""
    out: dict[str, list[str]] = {}
    for c in claims:
        out.setdefault(c["kind"], []).append(f"{c['school']}:{c['code']}")
    return {k: sorted(v) for k, v in sorted(out.items())}


def log_choices(choices: dict[str, Any]) -> list[str]:
    """Choices as the log records them: the public school's code, then ``SCHOOL/POOL`` per
    ranked private choice (the ids the frozen roster uses)."""
    out = [choices["public"]] if choices.get("public") else []
    return out + [f"{c['school']}/{c['pool']}" for c in choices.get("private", [])]


def _record(
    number: str,
    campaign_id: str,
    child_name: str,
    id_number: str,
    birth: date,
    sex: str,
    guardian: Guardian,
    facts: Facts,
    claims: list[ClaimIn],
) -> dict[str, Any]:
    return {
        "application": number,
        "campaign": campaign_id,
        "child": {
            "name": child_name,
            "id_number": id_number,
            "birth_date": birth.isoformat(),
            "sex": sex,
        },
        "guardian": msgspec.to_builtins(guardian),
        "facts": msgspec.to_builtins(facts),
        "documents": [list(c.documents) for c in claims],
    }


def _seal(ctx: Context, number: str, record: dict[str, Any]) -> tuple[bytes, str, str]:
    """Encrypt the record; return (ciphertext, salt hex, SHA-256(salt || RFC 8785(record)) hex)
    (audit.registration.record_digest, 32-byte salt)."""
    salt = secrets.token_bytes(SALT_SIZE)
    digest = record_digest(record, salt).hex()
    envelope = msgspec.json.encode({"salt": salt.hex(), "record": record})  # UTF-8 JSON
    return ctx.cipher.encrypt(envelope, number.encode()), salt.hex(), digest


def _seal_registration(
    ctx: Context,
    number: str,
    campaign_id: str,
    data: ApplicationIn,
    id_number: str,
    birth: date,
    sex: str,
) -> tuple[bytes, str, str]:
    """``_seal`` of a new registration's personal record (both registration paths)."""
    record = _record(
        number,
        campaign_id,
        data.child.name,
        id_number,
        birth,
        sex,
        data.guardian,
        data.facts,
        data.claims,
    )
    return _seal(ctx, number, record)


def open_record(ctx: Context, app: Application) -> dict[str, Any]:
    env: dict[str, Any] = json.loads(ctx.cipher.decrypt(app.personal, app.number.encode()))
    return env


def _mask(id_number: str) -> str:
    return id_number[:6] + "*" * 8 + id_number[-4:]


def to_out(
    ctx: Context, app: Application, *, personal: bool = False, receipt: Receipt | None = None
) -> ApplicationOut:
    p: PersonalOut | None = None
    if personal:
        rec = open_record(ctx, app)["record"]
        p = PersonalOut(
            child_name=rec["child"]["name"],
            id_number_masked=_mask(rec["child"]["id_number"]),
            birth_date=date.fromisoformat(rec["child"]["birth_date"]),
            sex=rec["child"]["sex"],
            guardian=msgspec.convert(rec["guardian"], Guardian),
            facts=msgspec.convert(rec["facts"], Facts),
            documents=rec["documents"],
        )
    return ApplicationOut(
        number=app.number,
        campaign=app.campaign_id,
        status=app.status,
        district=app.district,
        group=app.group_id,
        choices=msgspec.convert(app.choices, Choices),
        claims=[msgspec.convert(c, ClaimOut) for c in app.claims],
        review_status=app.review_status,
        review_reason=app.review_reason,
        appeal_status=app.appeal_status,
        created_at=app.created_at,
        updated_at=app.updated_at,
        personal=p,
        receipt=receipt,
    )


async def load(session: AsyncSession, number: str, *, lock: bool = False) -> Application:
    stmt = sa.select(Application).where(Application.number == number)
    if lock:
        stmt = stmt.with_for_update()
    app = (await session.execute(stmt)).scalar_one_or_none()
    if app is None:
        raise NotFound("no such application", "number", "no such application")
    return app


def check_access(actor: Principal, app: Application) -> None:
    """Parents: only their own; officers: their district (city-level: all); admins: all.
    A parent asking for someone else's application gets 404, so numbers cannot be probed."""
    if actor.role == "parent":
        if app.parent_id != actor.id:
            raise NotFound("no such application", "number", "no such application")
    elif actor.role == "officer":
        if actor.district is not None and actor.district != app.district:
            raise Forbidden("application of another district", "number", "not your district")
    elif actor.role != "admin":
        raise Forbidden("not allowed", "number", "not allowed for this role")


def _static_key(campaign_id: str) -> str:
    # Shares ctx.schools_cache (per app context): the campaign's year and rules, which never
    # change after creation, cached next to its schools once it has left ``draft``.
    return "campaign-static:" + campaign_id


async def _register_fast(
    engine: Any,
    ctx: Context,
    actor: Principal,
    campaign_id: str,
    data: ApplicationIn,
    parsed: tuple[str, date, str],
    blind: str,
    number: str,
) -> ApplicationOut | None:
    """The group-committed registration (``admissions.applications.batch``, PostgreSQL);
    ``None`` when it does not apply (not PostgreSQL, a bundle, campaign data not cached yet, any
    validation problem, campaign not open or outside its window, a batch refused as a whole):
    the caller then takes the ORM path, which raises the precise error in the usual order. A
    duplicate child -> 409, as on the ORM path."""
    if data.bundle_with is not None or engine is None or engine.dialect.name != "postgresql":
        return None
    static = ctx.schools_cache.get(_static_key(campaign_id))
    schools = ctx.schools_cache.get(campaign_id)
    if static is None or schools is None:
        return None
    id_number, birth, sex = parsed
    rules: Rules = static["rules"]
    try:
        check_age(birth, static["year"], rules)
        check_district(data.district, schools)
        check_choices(data.choices, data.claims, data.facts, schools, rules)
    except InvalidInput:
        return None
    ct, salt, digest = _seal_registration(ctx, number, campaign_id, data, id_number, birth, sex)
    choices = msgspec.to_builtins(data.choices)
    claims = _claims_public(data.claims)
    body = {
        "application": number,
        "campaign": campaign_id,
        "choices": log_choices(choices),
        "claims": _log_claims(claims),
        "group": None,
        "record_sha256": digest,
    }
    reg = Registration(
        number, campaign_id, actor.id, data.district, blind, choices, claims, ct, digest,
        actor.actor, body,
    )  # fmt: skip
    result = await batcher(engine).submit(ctx, reg)
    if result == DUPLICATE:
        raise _duplicate()
    if not isinstance(result, Written):
        return None
    return ApplicationOut(  # what to_out() gives for the row just written, without an ORM object
        number=number,
        campaign=campaign_id,
        status="active",
        district=data.district,
        group=None,
        choices=data.choices,
        claims=[ClaimOut(c.kind, c.school, c.code, "pending", None) for c in data.claims],
        review_status="pending",
        review_reason=None,
        appeal_status="none",
        created_at=result.at,
        updated_at=result.at,
        personal=None,
        receipt=Receipt(number, campaign_id, result.seq, result.entry.decode(), salt, digest),
    )


def _duplicate() -> Conflict:
    return Conflict(
        "this child already has an active application in this campaign",
        "child.id_number",
        "already has an active application in this campaign",
    )


async def register_fast(
    engine: Any, ctx: Context, actor: Principal, campaign_id: str, data: ApplicationIn
) -> ApplicationOut | None:
    """The group-committed registration alone (``applications.front``): the application, or
    ``None`` when it takes the ORM path; nothing is written unless it succeeds. Raises the
    same errors as :func:`register_new_session` for a bad ID number and a duplicate child."""
    parsed = parse_id_number(data.child.id_number)
    blind = ctx.blind(parsed[0])
    return await _register_fast(engine, ctx, actor, campaign_id, data, parsed, blind, new_number())


async def register_new_session(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: Context,
    actor: Principal,
    campaign_id: str,
    data: ApplicationIn,
) -> ApplicationOut:
    """Register a child (the route): group-committed on PostgreSQL when it can be, else one ORM
    transaction in a session opened only then (the group-committed path needs none)."""
    parsed = parse_id_number(data.child.id_number)
    blind = ctx.blind(parsed[0])
    number = new_number()
    engine = sessionmaker.kw.get("bind")
    fast = await _register_fast(engine, ctx, actor, campaign_id, data, parsed, blind, number)
    if fast is not None:
        return fast
    async with sessionmaker() as session:
        return await _register_orm(session, ctx, actor, campaign_id, data, parsed, blind, number)


async def _register_orm(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    campaign_id: str,
    data: ApplicationIn,
    parsed: tuple[str, date, str],
    blind: str,
    number: str,
) -> ApplicationOut:
    """The registration as one ORM transaction (SQLite, bundles, and every case the group
    commit leaves out); raises the precise error."""
    id_number, birth, sex = parsed
    try:
        async with session.begin():
            c = await load_campaign_shared(session, campaign_id)
            require_window(ctx, c)
            rules = rules_of(c)
            if c.phase != "draft":
                ctx.schools_cache.setdefault(_static_key(c.id), {"year": c.year, "rules": rules})
            check_age(birth, c.year, rules)
            schools = await _schools(session, ctx, c)
            check_district(data.district, schools)
            check_choices(data.choices, data.claims, data.facts, schools, rules)
            group_id: str | None = None
            if data.bundle_with is not None:
                group_id = await _bundle(session, ctx, actor, c, data, birth)
            ct, salt, digest = _seal_registration(ctx, number, c.id, data, id_number, birth, sex)
            now = ctx.clock()
            choices = msgspec.to_builtins(data.choices)
            claims = _claims_public(data.claims)
            # Queue the log record first so the application row carries its id; both are
            # inserted by the commit's flush (a duplicate child fails there -> 409).
            qid = await enqueue(
                session,
                "registration",
                actor.actor,
                {
                    "application": number,
                    "campaign": c.id,
                    "choices": log_choices(choices),
                    "claims": _log_claims(claims),
                    "group": group_id,
                    "record_sha256": digest,
                },
            )
            app = Application(
                number=number,
                campaign_id=c.id,
                parent_id=actor.id,
                district=data.district,
                status="active",
                active_index=blind,
                group_id=group_id,
                choices=choices,
                claims=claims,
                personal=ct,
                record_sha256=digest,
                review_status="pending",
                review_reason=None,
                appeal_status="none",
                appeal=None,
                log_queue_id=qid,
                created_at=now,
                updated_at=now,
            )
            session.add(app)
    except IntegrityError:
        raise _duplicate() from None
    e = await _sequenced(session, ctx, qid)
    receipt = Receipt(
        application=number,
        campaign=campaign_id,
        log_seq=e.seq,
        log_entry=e.entry.decode(),
        salt=salt,
        record_sha256=digest,
    )
    return to_out(ctx, app, receipt=receipt)


async def receipt(session: AsyncSession, ctx: Context, actor: Principal, number: str) -> ReceiptOut:
    """The family's receipt, re-issued: a c2sp.org/tlog-proof@v1 for the registration entry
    under the log's current signed checkpoint (``audit.receipt.make_receipt``; checked offline by
    ``paiwei-audit receipt``), with the salt and record hash. Builds the inclusion proof from
    every leaf hash (O(n) reads)."""
    from admissions.auditlog.service import signed_checkpoint_with_leaves
    from audit.receipt import make_receipt

    async with session.begin():
        app = await load(session, number)
        check_access(actor, app)
        if actor.role != "parent":
            raise Forbidden("receipts go to the family")
        entry = (
            (
                await session.execute(
                    sa.select(LogEntry).where(LogEntry.queue_id == app.log_queue_id)
                )
            ).scalar_one_or_none()
            if app.log_queue_id is not None
            else None
        )
        salt = open_record(ctx, app)["salt"]
    if entry is None:
        raise NotFound("no registration entry for this application yet", "number", "not logged")
    checkpoint, leaves = await signed_checkpoint_with_leaves(session, ctx)
    text = make_receipt(leaves, entry.seq, entry.entry, checkpoint)
    return ReceiptOut(
        application=number,
        log_seq=entry.seq,
        log_entry=entry.entry.decode(),
        salt=salt,
        record_sha256=app.record_sha256,
        tlog_proof=text,
    )


async def _sequenced(session: AsyncSession, ctx: Context, queue_id: int) -> LogEntry:
    """Sequence the log queue after our commit and return our entry (seq and bytes)."""
    return await sequenced(session, ctx, queue_id)


async def load_campaign_shared(session: AsyncSession, campaign_id: str) -> Campaign:
    """The campaign row locked FOR SHARE on PostgreSQL, so a phase change waits for registrations
    in flight (SQLite serialises writers anyway)."""
    stmt = sa.select(Campaign).where(Campaign.id == campaign_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)
    c = (await session.execute(stmt)).scalar_one_or_none()
    if c is None:
        raise NotFound("no such campaign", "campaign_id", "no such campaign")
    return c


async def _bundle(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    c: Campaign,
    data: ApplicationIn,
    birth: date,
) -> str:
    assert data.bundle_with is not None
    sib = (
        await session.execute(
            sa.select(Application).where(Application.number == data.bundle_with).with_for_update()
        )
    ).scalar_one_or_none()
    if (
        sib is None
        or sib.parent_id != actor.id
        or sib.campaign_id != c.id
        or sib.status != "active"
    ):
        raise InvalidInput("bundle_with", "no active application of yours in this campaign")
    if sib.choices != msgspec.to_builtins(data.choices):
        raise InvalidInput("choices", "must equal the bundled sibling's choices")
    sib_birth = open_record(ctx, sib)["record"]["child"]["birth_date"]
    if sib_birth != birth.isoformat():
        raise InvalidInput("bundle_with", "only multiples (same birth date) can be bundled")
    if sib.group_id is None:
        sib.group_id = "G-" + sib.number
    return sib.group_id


async def update(
    session: AsyncSession, ctx: Context, actor: Principal, number: str, data: ApplicationUpdate
) -> ApplicationOut:
    async with session.begin():
        app = await load(session, number, lock=True)
        check_access(actor, app)
        if actor.role != "parent":
            raise Forbidden("only the family edits its application")
        if app.status != "active":
            raise Conflict("application was withdrawn", "number", "withdrawn")
        c = await load_campaign_shared(session, app.campaign_id)
        require_window(ctx, c)
        rules = rules_of(c)
        schools = await _schools(session, ctx, c)
        check_district(data.district, schools)
        check_choices(data.choices, data.claims, data.facts, schools, rules)
        old = open_record(ctx, app)["record"]
        child = old["child"]
        record = _record(
            number,
            c.id,
            child["name"],
            child["id_number"],
            date.fromisoformat(child["birth_date"]),
            child["sex"],
            data.guardian,
            data.facts,
            data.claims,
        )
        ct, salt, digest = _seal(ctx, number, record)
        choices = msgspec.to_builtins(data.choices)
        now = ctx.clock()
        siblings: list[Application] = []
        if app.group_id is not None and choices != app.choices:
            rows = await session.execute(
                sa.select(Application)
                .where(Application.group_id == app.group_id, Application.id != app.id)
                .with_for_update()
            )
            siblings = list(rows.scalars())
        app.personal, app.record_sha256 = ct, digest
        app.choices, app.claims, app.district = choices, _claims_public(data.claims), data.district
        app.updated_at = now
        for sib in siblings:
            sib.choices, sib.updated_at = choices, now
        await session.flush()
        qid = await enqueue(
            session,
            "registration.update",
            actor.actor,
            {
                "application": number,
                "campaign": c.id,
                "choices": log_choices(choices),
                "claims": _log_claims(app.claims),
                "group": app.group_id,
                "record_sha256": digest,
            },
        )
        for sib in siblings:
            await enqueue(
                session,
                "registration.choices",
                actor.actor,
                {
                    "application": sib.number,
                    "campaign": c.id,
                    "choices": log_choices(choices),
                    "group": sib.group_id,
                },
            )
        app.log_queue_id = qid
    e = await _sequenced(session, ctx, qid)
    receipt = Receipt(number, c.id, e.seq, e.entry.decode(), salt, digest)
    return to_out(ctx, app, personal=True, receipt=receipt)


async def withdraw(
    session: AsyncSession, ctx: Context, actor: Principal, number: str
) -> ApplicationOut:
    async with session.begin():
        app = await load(session, number, lock=True)
        check_access(actor, app)
        if actor.role != "parent":
            raise Forbidden("only the family withdraws its application")
        if app.status != "active":
            raise Conflict("application was already withdrawn", "number", "already withdrawn")
        c = await load_campaign_shared(session, app.campaign_id)
        require_window(ctx, c)
        group = app.group_id
        app.status, app.active_index, app.group_id = "withdrawn", None, None
        app.updated_at = ctx.clock()
        if group is not None:
            rest = list(
                (
                    await session.execute(
                        sa.select(Application).where(
                            Application.group_id == group, Application.id != app.id
                        )
                    )
                ).scalars()
            )
            if len(rest) == 1:  # a bundle of one is no bundle
                rest[0].group_id = None
        await session.flush()
        qid = await enqueue(
            session,
            "registration.withdraw",
            actor.actor,
            {"campaign": c.id, "application": number, "group": group},
        )
    await _sequenced(session, ctx, qid)
    return to_out(ctx, app)


async def get(session: AsyncSession, ctx: Context, actor: Principal, number: str) -> ApplicationOut:
    async with session.begin():
        app = await load(session, number)
        check_access(actor, app)
        return to_out(ctx, app, personal=True)


async def list_(
    session: AsyncSession,
    ctx: Context,
    actor: Principal,
    campaign_id: str,
    limit: int,
    offset: int,
    status: str | None = None,
    review_status: str | None = None,
) -> Page[ApplicationOut]:
    async with session.begin():
        await load_campaign(session, campaign_id)
        conds: list[Any] = [Application.campaign_id == campaign_id]
        if actor.role == "parent":
            conds.append(Application.parent_id == actor.id)
        elif actor.role == "officer" and actor.district is not None:
            conds.append(Application.district == actor.district)
        if status is not None:
            conds.append(Application.status == status)
        if review_status is not None:
            conds.append(Application.review_status == review_status)
        total = (
            await session.execute(sa.select(sa.func.count(Application.id)).where(*conds))
        ).scalar_one()
        rows = await session.execute(
            sa.select(Application)
            .where(*conds)
            .order_by(Application.id)
            .limit(limit)
            .offset(offset)
        )
        return Page([to_out(ctx, a) for a in rows.scalars()], total, limit, offset)
