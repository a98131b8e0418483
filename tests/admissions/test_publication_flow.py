"""Publication through the HTTP API: publish, public tables, family lookup (rate-limited),
cosigning, the bundle (verified by audit.verify), receipts, and tampering after publication.

The draw itself is produced by ``drawn_campaign`` below, which writes exactly what the ceremony
stores (``Draw``/``DrawWitness`` rows, lottery placements, the draw.* log entries made with
audit.draw and a real drand quicknet round) so that the bundle verifies offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
import sqlalchemy as sa

import lottery
from admissions.auditlog.models import LogEntry
from admissions.auditlog.service import append
from admissions.campaigns import service as campaigns
from admissions.campaigns.models import Placement, Roster
from admissions.ceremony.models import Draw, DrawWitness
from admissions.context import Principal
from admissions.publication.models import LookupThrottle
from admissions.publication.service import LOOKUP_MAX_PER_NUMBER
from audit import draw as auditdraw
from audit import note
from audit.cosignature import add_cosignature
from audit.receipt import verify_receipt
from audit.verify import verify_bundle
from tests.admissions.helpers import CLOSE_AT, REVIEW_DEADLINE, Api, application, id_number

pytestmark = pytest.mark.anyio

QUICKNET_ROUND = 30662990  # published 2026-07-23T07:38:54Z (tests/audit/fixtures.py)
QUICKNET_SIG = (
    "8b2ebe176d153849d5db7f358a3a21be96f8c5d1c26ed2b530fff4419face890"
    "9d77f4ee6a211623e2432c30841411b5"
)
QUICKNET_RANDOMNESS = "aac361dad26f7e5f5c2460fa905ed6d4e2bf8d21ccb67bbe5100204475b56742"
DRAW_AT = datetime(2026, 6, 1, 8, tzinfo=UTC)
BEACON_AT = datetime(2026, 7, 23, 8, tzinfo=UTC)
NAMES = ["张小明", "李华", "王芳芳", "欧阳娜娜", "赵强", "陈一一", "刘洋", "周杰"]
PHONES = [f"1380000{i:04d}" for i in range(8)]


@dataclass
class Drawn:
    numbers: list[str]
    witness_skeys: list[str]
    witness_vkeys: list[str]
    draw_id: str


def _keys(n: int) -> list[tuple[str, str]]:
    return [
        note.generate_key(f"notary.test/w{i}", seed=hashlib.sha256(b"pw%d" % i).digest())
        for i in range(n)
    ]


async def drawn_campaign(api: Api) -> Drawn:
    """Register 8 children (PRV1 oversubscribed), review, freeze, and draw the private round
    as the ceremony does; the campaign ends in phase ``drawn``."""
    await api.setup_world()
    await api.account("wit2", "witness")
    numbers = []
    for i, name in enumerate(NAMES):
        body = application(serial=100 + 2 * i)
        body["child"]["name"] = name
        body["guardian"]["phone"] = PHONES[i]
        r = await api.register(body, who="p1" if i % 2 else "p2")
        assert r.status_code == 201, r.text
        numbers.append(r.json()["number"])
    api.clock.set(CLOSE_AT)
    assert (await api.phase("closed")).status_code == 200
    for n in numbers:
        assert (await api.review(n)).status_code == 200
    api.clock.set(REVIEW_DEADLINE)
    assert (await api.phase("reviewed")).status_code == 200
    r = await api.client.post(f"/campaigns/{api.campaign_id}/freeze", headers=api.h["city"])
    assert r.status_code == 200, r.text

    keys = _keys(3)
    skeys, vkeys = [s for s, _ in keys], [v for _, v in keys]
    officer = Principal(id=2, role="officer")
    draw_id = f"{api.campaign_id}-private"
    ctx = api.ctx
    api.clock.set(DRAW_AT)
    async with api.db() as s, s.begin():
        rosters = list(
            (
                await s.execute(
                    sa.select(Roster)
                    .where(Roster.campaign_id == api.campaign_id)
                    .order_by(Roster.id)
                )
            ).scalars()
        )
        docs = [json.loads(r.data) for r in rosters]
        instance: dict[str, Any] = {
            "format": "paiwei-instance/1",
            "mechanism": "deferred-acceptance",
            "tie_breaking": "single",
            "group_policy": "all-or-none",
            "schools": sorted((x for d in docs for x in d["schools"]), key=lambda x: x["id"]),
            "applicants": sorted((x for d in docs for x in d["applicants"]), key=lambda x: x["id"]),
        }
        announced = {"source": "drand-quicknet", "round": QUICKNET_ROUND}
        body = auditdraw.roster_body(
            draw_id, instance, beacon=announced, witnesses=vkeys, min_reveals=2
        )
        e = await append(s, ctx, "draw.roster", officer.actor, body)
        digest = bytes.fromhex(str(body["instance_sha256"]))
        d = Draw(
            id=draw_id,
            campaign_id=api.campaign_id,
            round="private",
            status="open",
            mechanism="deferred-acceptance",
            tie_breaking="single",
            group_policy="all-or-none",
            beacon=announced,
            min_reveals=2,
            commit_deadline=DRAW_AT + timedelta(days=1),
            reveal_deadline=DRAW_AT + timedelta(days=30),
            confirm_deadline=BEACON_AT + timedelta(days=7),
            offer_hours=48,
            instance=rfc8785.dumps(instance),
            instance_sha256=digest.hex(),
            schools=len(instance["schools"]),
            applicants=len(instance["applicants"]),
            roster_seq=e.seq,
            opened_at=DRAW_AT,
        )
        s.add(d)
        await s.flush()
        accounts = {"wit": 0, "nota": 0, "wit2": 0}
        from admissions.accounts.models import User

        for u in (await s.execute(sa.select(User))).scalars():
            if u.username in accounts:
                accounts[u.username] = u.id
        secrets = [hashlib.sha256(b"secret%d" % i).digest() for i in range(3)]
        for i, acct in enumerate(accounts.values()):
            c = auditdraw.commit_note(draw_id, digest, secrets[i], skeys[i])
            ce = await append(
                s,
                ctx,
                "draw.commit",
                f"witness#{acct}",
                auditdraw.commit_body(draw_id, vkeys[i], c),
            )
            s.add(
                DrawWitness(
                    draw_id=draw_id,
                    key_id=auditdraw.witness_id(vkeys[i]),
                    vkey=vkeys[i],
                    account_id=acct,
                    commit_note=c,
                    commitment=hashlib.sha256(secrets[i]).hexdigest(),
                    commit_seq=ce.seq,
                )
            )
        for i in range(3):
            r_ = auditdraw.reveal_note(draw_id, digest, secrets[i], skeys[i])
            await append(
                s, ctx, "draw.reveal", "witness", auditdraw.reveal_body(draw_id, vkeys[i], r_)
            )
    api.clock.set(BEACON_AT)
    async with api.db() as s, s.begin():
        d = await s.get(Draw, draw_id)
        assert d is not None
        evidence = {"source": "drand-quicknet", "round": QUICKNET_ROUND, "signature": QUICKNET_SIG}
        value = bytes.fromhex(QUICKNET_RANDOMNESS)
        await append(
            s, ctx, "draw.beacon", officer.actor, auditdraw.beacon_body(draw_id, evidence, value)
        )
        reveals = [(auditdraw.witness_id(v), sec) for v, sec in zip(vkeys, secrets, strict=True)]
        seed = auditdraw.derive_seed(digest, value, reveals)
        await append(
            s,
            ctx,
            "draw.seed",
            officer.actor,
            auditdraw.seed_body(draw_id, seed, sorted(k for k, _ in reveals), []),
        )
        d.seed = seed.hex()
        result = lottery.run(d.instance_with_seed())
        re_ = await append(
            s, ctx, "draw.result", officer.actor, auditdraw.result_body(draw_id, result)
        )
        d.result, d.result_seq, d.status, d.drawn_at = result, re_.seq, "drawn", BEACON_AT
        for aid, p in json.loads(result)["assignments"].items():
            if p is not None:
                school, pool = p["school"].split("/", 1)
                s.add(
                    Placement(
                        campaign_id=api.campaign_id,
                        application_number=aid,
                        round="private",
                        school_code=school,
                        pool_code=pool,
                        basis="lottery",
                        created_at=BEACON_AT,
                    )
                )
        c = await campaigns.load(s, api.campaign_id, lock=True)
        await campaigns.set_phase(s, ctx, officer, c, "drawn")
    return Drawn(numbers, skeys, vkeys, draw_id)


@pytest.fixture
async def drawn(api: Api) -> Drawn:
    return await drawn_campaign(api)


async def publish(api: Api) -> dict[str, Any]:
    r = await api.client.post(f"/campaigns/{api.campaign_id}/publish", headers=api.h["city"])
    assert r.status_code == 200, r.text
    return dict(r.json())


async def cosign_all(api: Api, dr: Drawn, k: int = 2) -> str:
    r = await api.client.get(f"/campaigns/{api.campaign_id}/publication/checkpoint")
    assert r.status_code == 200
    cp = r.text
    now = int(api.clock().timestamp())
    for i, who in enumerate(("wit", "nota", "wit2")[:k]):
        cosigned = add_cosignature(cp, dr.witness_skeys[i], now - 10 + i)
        r = await api.client.post(
            f"/campaigns/{api.campaign_id}/publication/cosignatures",
            json={"checkpoint": cosigned},
            headers=api.h[who],
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == [f"notary.test/w{i}"]
    return cp


async def download(api: Api, dest: Path) -> Path:
    r = await api.client.get(f"/campaigns/{api.campaign_id}/bundle")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/gzip")
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / f"{api.campaign_id}-bundle"


def trust(api: Api, dr: Drawn) -> list[str]:
    return [note.verifier_key_text(api.ctx.settings.log_signing_key), *dr.witness_vkeys]


def failed(report: Any) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if c.status == "failed"}


async def test_publish_tables_lookup_cosign_bundle_receipt(
    api: Api, drawn: Drawn, tmp_path: Path
) -> None:
    cid = api.campaign_id
    # nothing public before publication
    r = await api.client.get(f"/campaigns/{cid}/results")
    assert r.status_code == 409 and r.json()["type"] == "urn:paiwei:problem:wrong-phase"
    # a district officer cannot publish; a parent is forbidden
    r = await api.client.post(f"/campaigns/{cid}/publish", headers=api.h["lx"])
    assert r.status_code == 403
    pub = await publish(api)
    assert pub["campaign"]["phase"] == "published" and pub["draws"] == [drawn.draw_id]
    assert pub["results"] == 8 and not pub["fairness_flagged"]
    # the phase entry binds the fairness report
    async with api.db() as s, s.begin():
        entry = (
            await s.execute(sa.select(LogEntry.entry).where(LogEntry.seq == pub["log_seq"]))
        ).scalar_one()
    body = json.loads(entry)["body"]
    fr = await api.client.get(f"/campaigns/{cid}/fairness")
    assert fr.status_code == 200 and json.loads(fr.content)["format"] == "paiwei-fairness/1"
    assert body["to"] == "published"
    assert body["fairness_sha256"] == hashlib.sha256(fr.content).hexdigest()
    # publishing twice is a phase error
    r = await api.client.post(f"/campaigns/{cid}/publish", headers=api.h["city"])
    assert r.status_code == 409

    # per-school tables
    r = await api.client.get(f"/campaigns/{cid}/results")
    assert r.status_code == 200
    summary = {s["school"]: s for s in r.json()["schools"]}
    assert summary["PRV1"]["applicants"] == 8 and summary["PRV1"]["admitted"] == 3
    assert summary["PRV2"]["admitted"] == 5
    r = await api.client.get(f"/campaigns/{cid}/results/PRV1")
    table = r.json()
    (section,) = table["sections"]
    assert section["id"] == "PRV1/day" and section["capacity"] == 3
    assert len(section["admitted"]) == 3 and len(section["waitlist"]) == 5
    assert [w["position"] for w in section["waitlist"]] == [1, 2, 3, 4, 5]
    cut = section["cutoff"]
    assert cut is not None and cut["lottery_number"] == max(
        a["lottery_number"] for a in section["admitted"]
    )
    assert all(w["lottery_number"] > cut["lottery_number"] for w in section["waitlist"])
    masked = {a["name"] for a in section["admitted"] + section["waitlist"]}
    assert masked == {"张*明", "李*", "王*芳", "欧**娜", "赵*", "陈*一", "刘*", "周*"}
    assert (await api.client.get(f"/campaigns/{cid}/results/NOPE")).status_code == 404

    # no name, ID number or phone in any public output
    public = [
        (await api.client.get(f"/campaigns/{cid}/results")).content,
        *[(await api.client.get(f"/campaigns/{cid}/results/{c}")).content for c in summary],
        fr.content,
    ]
    secrets_ = [
        *NAMES,
        *PHONES,
        *(id_number("20200315", 100 + 2 * i) for i in range(8)),
    ]
    for blob in public:
        text = blob.decode()
        for sec in secrets_:
            assert sec not in text

    # family lookup: right factor -> result; wrong -> 404; throttled -> 429 (persisted)
    n0 = drawn.numbers[0]
    url = f"/campaigns/{cid}/results/lookup"
    r = await api.client.post(url, json={"application": n0, "kind": "phone", "last4": "0000"})
    assert r.status_code == 200, r.text
    mine = r.json()
    assert r.headers["cache-control"] == "no-store"
    assert mine["name"] == "张*明" and mine["application"] == n0
    assert mine["status"] == "admitted"
    (d,) = mine["draws"]
    assert len(d["ticket"]) == 64 and [x["school"] for x in d["schools"]] == [
        "PRV1/day",
        "PRV2/day",
    ]
    first = d["schools"][0]
    assert first["outcome"] in ("admitted", "waitlisted")
    if first["outcome"] == "waitlisted":
        assert first["reason"] == "after-cutoff"
        assert first["lottery_number"] > first["cutoff"]["lottery_number"]
    id4 = id_number("20200315", 100)[-4:]
    r = await api.client.post(url, json={"application": n0, "kind": "id_number", "last4": id4})
    assert r.status_code == 200 and r.json() == mine
    for text in (r.text,):
        for sec in secrets_:
            assert sec not in text
    r = await api.client.post(url, json={"application": n0, "kind": "phone", "last4": "9999"})
    assert r.status_code == 404 and "9999" not in r.text
    r = await api.client.post(
        url, json={"application": "ZZZZ-ZZZZ-ZZZZ", "kind": "phone", "last4": "0000"}
    )
    assert r.status_code == 404
    r = await api.client.post(url, json={"application": n0, "kind": "phone", "last4": "12"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "last4"
    for _ in range(LOOKUP_MAX_PER_NUMBER - 1):
        r = await api.client.post(url, json={"application": n0, "kind": "phone", "last4": "9999"})
        assert r.status_code == 404
    r = await api.client.post(url, json={"application": n0, "kind": "phone", "last4": "0000"})
    assert r.status_code == 429
    async with api.db() as s, s.begin():
        rows = (await s.execute(sa.select(LookupThrottle))).scalars().all()
        assert any(row.failures == LOOKUP_MAX_PER_NUMBER for row in rows)
        assert all(n0 not in row.key or row.key.endswith(n0) for row in rows)
    # ...and the window passes
    api.clock.advance(minutes=16)
    r = await api.client.post(url, json={"application": n0, "kind": "phone", "last4": "0000"})
    assert r.status_code == 200

    # cosigning: bad submissions are refused, witnesses' lines are stored
    cp_url = f"/campaigns/{cid}/publication/cosignatures"
    r = await api.client.get(f"/campaigns/{cid}/publication/checkpoint")
    checkpoint = r.text
    outsider, _ = note.generate_key("notary.test/outsider")
    r = await api.client.post(
        cp_url,
        json={"checkpoint": add_cosignature(checkpoint, outsider, 1)},
        headers=api.h["nota"],
    )
    assert r.status_code == 422 and "not a witness" in r.text
    r = await api.client.post(cp_url, json={"checkpoint": "garbage"}, headers=api.h["nota"])
    assert r.status_code == 422
    published_cp = await cosign_all(api, drawn, k=2)
    r = await api.client.get(f"/campaigns/{cid}/publication/checkpoint")
    assert r.text.count("\n— notary.test/w") == 2
    # resubmission is idempotent
    again = add_cosignature(published_cp, drawn.witness_skeys[0], int(api.clock().timestamp()))
    r = await api.client.post(cp_url, json={"checkpoint": again}, headers=api.h["wit"])
    assert r.status_code == 200 and r.json()["accepted"] == []

    # the bundle verifies: VALID with two witnesses and the notary's kept checkpoint
    bundle = await download(api, tmp_path / "b1")
    report = verify_bundle(bundle, trust(api, drawn), witnesses=2, previous=published_cp)
    assert report.verdict == "VALID", [(c.name, c.status, c.detail) for c in report.checks]

    # the family's receipt checks against the bundle (salt + record from the registration)
    r = await api.client.get(f"/applications/{n0}/receipt", headers=api.h["p2"])
    assert r.status_code == 200, r.text
    assert r.text.startswith("c2sp.org/tlog-proof@v1\n")
    async with api.db() as s, s.begin():
        from admissions.applications.service import load, open_record

        env = open_record(api.ctx, await load(s, n0))
    rep = verify_receipt(
        r.text,
        bundle,
        trust(api, drawn)[:1],
        salt=bytes.fromhex(env["salt"]),
        record=env["record"],
    )
    assert rep.verdict == "VALID", [(c.name, c.status, c.detail) for c in rep.checks]
    # someone else's receipt is not served to another parent
    r = await api.client.get(f"/applications/{n0}/receipt", headers=api.h["p1"])
    assert r.status_code == 404


async def test_flagged_fairness_refuses(api: Api, drawn: Drawn, monkeypatch: Any) -> None:
    import audit.fairness

    real = audit.fairness.fairness_report

    def flagged(outcomes: Any, **kw: Any) -> Any:
        rep = real(outcomes, **kw)
        t0 = rep.tests[0]
        bad = type(t0)(**{**{f: getattr(t0, f) for f in t0.__slots__}, "flagged": True})
        return type(rep)(
            **{
                **{f: getattr(rep, f) for f in rep.__slots__},
                "tests": (bad, *rep.tests[1:]),
                "flagged": True,
            }
        )

    monkeypatch.setattr(audit.fairness, "fairness_report", flagged)
    r = await api.client.post(f"/campaigns/{api.campaign_id}/publish", headers=api.h["city"])
    assert r.status_code == 409 and "fairness" in r.text
    r = await api.client.get(f"/campaigns/{api.campaign_id}")
    assert r.json()["phase"] == "drawn"


async def _tamper_result(api: Api, dr: Drawn) -> None:
    async with api.db() as s, s.begin():
        d = await s.get(Draw, dr.draw_id)
        assert d is not None and d.result is not None
        res = json.loads(d.result)
        sch = res["schools"]["PRV1/day"]
        # swap the last admitted and the first waitlisted applicant
        a, w = sch["admitted"][-1], sch["waitlist"][0]
        sch["admitted"][-1], sch["waitlist"][0] = w, a
        res["assignments"][w], res["assignments"][a] = res["assignments"][a], res["assignments"][w]
        d.result = rfc8785.dumps(res) + b"\n"


async def _tamper_roster(api: Api, dr: Drawn) -> None:
    async with api.db() as s, s.begin():
        d = await s.get(Draw, dr.draw_id)
        assert d is not None
        inst = json.loads(d.instance)
        inst["applicants"] = inst["applicants"][1:]  # someone quietly dropped
        d.instance = rfc8785.dumps(inst)


async def _tamper_log(api: Api, dr: Drawn) -> None:
    async with api.db() as s, s.begin():
        row = (
            await s.execute(sa.select(LogEntry).where(LogEntry.kind == "registration").limit(1))
        ).scalar_one()
        e = json.loads(row.entry)
        e["body"]["choices"] = list(reversed(e["body"]["choices"]))
        row.entry = rfc8785.dumps(e)


@pytest.mark.parametrize(
    ("tamper", "checks"),
    [
        (_tamper_result, {"draw[{d}].result-entry", "draw[{d}].recompute"}),
        (_tamper_roster, {"draw[{d}].instance"}),
        (_tamper_log, {"log.cosignatures", "log.consistency"}),
    ],
    ids=["result", "roster", "log-row"],
)
async def test_tampering_after_publication_is_caught(
    api: Api, drawn: Drawn, tmp_path: Path, tamper: Any, checks: set[str]
) -> None:
    await publish(api)
    published_cp = await cosign_all(api, drawn, k=2)
    before = verify_bundle(
        await download(api, tmp_path / "before"),
        trust(api, drawn),
        witnesses=2,
        previous=published_cp,
    )
    assert before.verdict == "VALID"
    await tamper(api, drawn)
    after = verify_bundle(
        await download(api, tmp_path / "after"),
        trust(api, drawn),
        witnesses=2,
        previous=published_cp,
    )
    assert after.verdict == "INVALID"
    want = {c.format(d=drawn.draw_id) for c in checks}
    assert want <= set(failed(after)), failed(after)
    # the CLI says the same, with exit code 1
    from audit.cli import main

    args = ["verify", str(tmp_path / "after" / f"{api.campaign_id}-bundle"), "--witnesses", "2"]
    (tmp_path / "trust.vkeys").write_text("\n".join(trust(api, drawn)) + "\n")
    (tmp_path / "prev.txt").write_text(published_cp)
    rc = main(
        [*args, "--trust", str(tmp_path / "trust.vkeys"), "--previous", str(tmp_path / "prev.txt")]
    )
    assert rc == 1
