"""Publication through the HTTP API: publish, public tables, family lookup (rate-limited),
cosigning, the bundle (verified by audit.verify), receipts, and tampering after publication.

The draw is run through the ceremony's own HTTP API (tests/admissions/ceremony_world.py: three
witnesses, a real drand quicknet round), so the bundle verifies offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785
import sqlalchemy as sa

from admissions.auditlog.models import LogEntry
from admissions.ceremony.models import Draw
from admissions.publication.models import LookupThrottle
from admissions.publication.service import LOOKUP_MAX_PER_NUMBER, LOOKUP_MAX_PER_NUMBER_DAY
from audit import note
from audit.cosignature import add_cosignature
from audit.receipt import verify_receipt
from audit.verify import verify_bundle
from tests.admissions.ceremony_world import ceremony_until_run, witness_keys
from tests.admissions.helpers import CLOSE_AT, REVIEW_DEADLINE, Api, application, id_number

pytestmark = pytest.mark.anyio

NAMES = ["张小明", "李华", "王芳芳", "欧阳娜娜", "赵强", "陈一一", "刘洋", "周杰"]
PHONES = [f"1380000{i:04d}" for i in range(8)]


@dataclass
class Drawn:
    numbers: list[str]
    witness_skeys: list[str]
    witness_vkeys: list[str]
    draw_id: str


async def drawn_campaign(api: Api) -> Drawn:
    """Register 8 children (PRV1 oversubscribed: 3 seats), review, freeze, and run the private
    draw through the ceremony's HTTP API (three witnesses, a real quicknet round); everyone
    is placed privately, so the campaign ends ``drawn`` without a public round."""
    await api.setup_world()
    for name in ("w0", "w1", "w2"):
        await api.account(name, "witness")
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
    d = await ceremony_until_run(api)
    r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
    assert r.status_code == 200, r.text
    assert (await api.client.get(f"/campaigns/{api.campaign_id}")).json()["phase"] == "drawn"
    keys = witness_keys()
    return Drawn(numbers, [k for k, _ in keys], [v for _, v in keys], d["id"])


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
    for i, who in enumerate(("w0", "w1", "w2")[:k]):
        cosigned = add_cosignature(cp, dr.witness_skeys[i], now - 10 + i)
        r = await api.client.post(
            f"/campaigns/{api.campaign_id}/publication/cosignatures",
            json={"checkpoint": cosigned},
            headers=api.h[who],
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == [f"notary.example/w{i}"]
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
    assert mine["current"]["placement"]["school"] == mine["placement"]["school"]
    assert mine["current"]["placement"]["status"] == "placed"
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
    assert r.text.count("\n— notary.example/w") == 2
    # resubmission is idempotent
    again = add_cosignature(published_cp, drawn.witness_skeys[0], int(api.clock().timestamp()))
    r = await api.client.post(cp_url, json={"checkpoint": again}, headers=api.h["w0"])
    assert r.status_code == 200 and r.json()["accepted"] == []

    # the bundle verifies: VALID with two witnesses and the notary's kept checkpoint
    bundle = await download(api, tmp_path / "b1")
    report = verify_bundle(bundle, trust(api, drawn), witnesses=2, previous=published_cp)
    assert report.verdict == "VALID", [(c.name, c.status, c.detail) for c in report.checks]

    # the family's receipt checks against the bundle (salt + record from the registration)
    r = await api.client.get(f"/applications/{n0}/receipt", headers=api.h["p2"])
    assert r.status_code == 200, r.text
    proof = r.json()["tlog_proof"]
    assert proof.startswith("c2sp.org/tlog-proof@v1\n")
    async with api.db() as s, s.begin():
        from admissions.applications.service import load, open_record

        env = open_record(api.ctx, await load(s, n0))
    rep = verify_receipt(
        proof,
        bundle,
        trust(api, drawn)[:1],
        salt=bytes.fromhex(env["salt"]),
        record=env["record"],
    )
    assert rep.verdict == "VALID", [(c.name, c.status, c.detail) for c in rep.checks]
    # ... and so does the CLI a family would run
    from audit.cli import main

    (tmp_path / "r.tlog-proof").write_text(proof)
    (tmp_path / "record.json").write_text(json.dumps(env["record"], ensure_ascii=False))
    (tmp_path / "log.vkey").write_text(trust(api, drawn)[0] + "\n")
    rc = main(
        [
            "receipt",
            str(tmp_path / "r.tlog-proof"),
            "--bundle",
            str(bundle),
            "--trust",
            str(tmp_path / "log.vkey"),
            "--salt",
            env["salt"],
            "--record",
            str(tmp_path / "record.json"),
        ]
    )
    assert rc == 0
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
    url, city = f"/campaigns/{api.campaign_id}/publish", api.h["city"]
    r = await api.client.post(url, headers=city)
    assert r.status_code == 409 and "fairness" in r.text
    name = r.json()["errors"][0]["reason"].removeprefix("flagged: ")
    assert name == "ticket_uniformity"
    reason = "recomputed independently with paiwei-audit verify: VALID"
    refused = [
        ({"acknowledge_flags": ["ticket_vs_district"], "reason": reason}, 409, "acknowledge_flags"),
        ({"acknowledge_flags": [name, "ticket_vs_district"], "reason": reason}, 409, None),
        ({"acknowledge_flags": [name], "reason": " " * 30}, 422, "reason"),
        ({"acknowledge_flags": [name]}, 400, "reason"),
    ]
    for body, status, field in refused:
        r = await api.client.post(url, headers=city, json=body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert field in r.text
        phase = (await api.client.get(f"/campaigns/{api.campaign_id}")).json()["phase"]
        assert phase == "drawn"
    # acknowledged test by test, with a reason: published as flagged, the acknowledgement logged
    r = await api.client.post(
        url, headers=city, json={"acknowledge_flags": [name], "reason": reason}
    )
    assert r.status_code == 200, r.text
    pub = r.json()
    assert pub["fairness_flagged"] is True and pub["campaign"]["phase"] == "published"
    async with api.db() as s:
        entry = (
            await s.execute(sa.select(LogEntry.entry).where(LogEntry.seq == pub["log_seq"]))
        ).scalar_one()
    body = json.loads(entry)["body"]
    assert body["fairness_flagged"] is True
    assert body["flags_acknowledged"] == [name] and body["acknowledgement"] == reason


async def test_acknowledging_an_unflagged_report_refuses(api: Api, drawn: Drawn) -> None:
    url = f"/campaigns/{api.campaign_id}/publish"
    body = {"acknowledge_flags": ["ticket_uniformity"], "reason": "no reason to acknowledge it"}
    r = await api.client.post(url, headers=api.h["city"], json=body)
    assert r.status_code == 409 and "acknowledge_flags" in r.text
    assert (await api.client.get(f"/campaigns/{api.campaign_id}")).json()["phase"] == "drawn"
    pub = await publish(api)
    assert pub["fairness_flagged"] is False


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


async def test_two_rounds_public_bands_and_cutoffs(api: Api, tmp_path: Path) -> None:
    """Private draw, then the 统筹 public round with priority bands; both draws published."""
    from tests.admissions.ceremony_world import frozen_world

    numbers = await frozen_world(api)
    for round_ in ("private", "public"):
        d = await ceremony_until_run(api, round_)
        r = await api.client.post(f"/draws/{d['id']}/run", headers=api.h["city"])
        assert r.status_code == 200, r.text
    pub = await publish(api)
    assert len(pub["draws"]) == 2
    table = (await api.client.get(f"/campaigns/{api.campaign_id}/results/PUB1")).json()
    (section,) = table["sections"]
    assert section["id"] == "PUB1" and section["draw"].endswith("-public")
    assert len(section["admitted"]) == 3 and table["admitted"] == 3
    cut = section["cutoff"]
    assert cut is not None and cut["band"] in ("hukou_property", "")
    rank = {"hukou_property": 2, "": 0}
    for w in section["waitlist"]:
        # later than the cutoff in the school's order: lower band, or same band, larger number
        assert (-rank[w["band"]], w["lottery_number"]) > (-cut["band_rank"], cut["lottery_number"])
    claimants = {n for i, n in enumerate(numbers) if i % 2 == 0}
    for row in section["admitted"] + section["waitlist"]:
        assert (row["band"] == "hukou_property") == (row["application"] in claimants)
    # one public-round family's own view agrees with the table
    w0 = section["waitlist"][0]
    i = numbers.index(w0["application"])
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/results/lookup",
        json={
            "application": w0["application"],
            "kind": "id_number",
            "last4": id_number("20200315", 100 + 2 * i)[-4:],
        },
    )
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["status"] == "not-admitted" and mine["placement"] is None
    public = next(d for d in mine["draws"] if d["draw"].endswith("-public"))
    (st,) = public["schools"]
    assert st["outcome"] == "waitlisted" and st["waitlist_position"] == 1
    assert st["reason"] == "after-cutoff" and st["cutoff"] == cut
    # fairness report tabulates bands; not flagged
    rep = json.loads((await api.client.get(f"/campaigns/{api.campaign_id}/fairness")).content)
    assert not rep["flagged"] and {"band", "district", "registration_day"} <= set(rep["rates"])
    # the bundle holds both draws and verifies
    for i, who in enumerate(("w0", "w1")):
        cp = (await api.client.get(f"/campaigns/{api.campaign_id}/publication/checkpoint")).text
        r = await api.client.post(
            f"/campaigns/{api.campaign_id}/publication/cosignatures",
            json={"checkpoint": add_cosignature(cp, witness_keys()[i][0], 1785000000 + i)},
            headers=api.h[who],
        )
        assert r.status_code == 200, r.text
    keys = witness_keys()
    bundle = await download(api, tmp_path)
    report = verify_bundle(
        bundle,
        [note.verifier_key_text(api.ctx.settings.log_signing_key), *(v for _, v in keys)],
        witnesses=2,
        previous=pub["checkpoint"],
    )
    assert report.verdict == "VALID", failed(report)
    assert sorted(p.name for p in (bundle / "draws").iterdir()) == sorted(pub["draws"])


async def test_concurrent_failed_lookups_are_all_counted(api: Api, drawn: Drawn) -> None:
    """Simultaneous wrong guesses cannot slip past the limit: the throttle rows are locked."""
    import asyncio

    await publish(api)
    url = f"/campaigns/{api.campaign_id}/results/lookup"
    body = {"application": drawn.numbers[1], "kind": "phone", "last4": "9999"}
    rs = await asyncio.gather(*(api.client.post(url, json=body) for _ in range(9)))
    codes = sorted(r.status_code for r in rs)
    assert codes == [404] * LOOKUP_MAX_PER_NUMBER + [429] * (9 - LOOKUP_MAX_PER_NUMBER)
    async with api.db() as s, s.begin():
        rows = {r.key: r.failures for r in (await s.execute(sa.select(LookupThrottle))).scalars()}
    assert rows[f"n:{api.campaign_id}:{drawn.numbers[1]}"] == LOOKUP_MAX_PER_NUMBER
    # the right factor is refused too while locked
    r = await api.client.post(url, json={**body, "last4": PHONES[1][-4:]})
    assert r.status_code == 429
    # a new 15-minute window allows more guesses, but only up to the daily cap
    api.clock.advance(minutes=16)
    codes = []
    for _ in range(LOOKUP_MAX_PER_NUMBER):
        codes.append((await api.client.post(url, json=body)).status_code)
    extra = LOOKUP_MAX_PER_NUMBER_DAY - LOOKUP_MAX_PER_NUMBER
    assert codes == [404] * extra + [429] * (LOOKUP_MAX_PER_NUMBER - extra)
    api.clock.advance(minutes=16)
    r = await api.client.post(url, json={**body, "last4": PHONES[1][-4:]})
    assert r.status_code == 429 and "today" in r.text
    api.clock.advance(hours=24)
    r = await api.client.post(url, json={**body, "last4": PHONES[1][-4:]})
    assert r.status_code == 200


async def test_campaign_without_lottery_publishes(api: Api, tmp_path: Path) -> None:
    """Every choice undersubscribed: no draw, direct placements only, an empty fairness report."""
    from admissions.campaigns import service as campaigns
    from admissions.context import Principal

    await api.setup_world()
    r = await api.register(application(serial=11))
    number = r.json()["number"]
    api.clock.set(CLOSE_AT)
    assert (await api.phase("closed")).status_code == 200
    assert (await api.review(number)).status_code == 200
    api.clock.set(REVIEW_DEADLINE)
    assert (await api.phase("reviewed")).status_code == 200
    r = await api.client.post(f"/campaigns/{api.campaign_id}/freeze", headers=api.h["city"])
    assert r.status_code == 200 and r.json()["rosters"] == []
    async with api.db() as s, s.begin():  # what the ceremony does when there is nothing to draw
        c = await campaigns.load(s, api.campaign_id, lock=True)
        await campaigns.set_phase(s, api.ctx, Principal(id=2, role="officer"), c, "drawn")
    pub = await publish(api)
    assert pub["draws"] == [] and not pub["fairness_flagged"]
    table = (await api.client.get(f"/campaigns/{api.campaign_id}/results/PRV1")).json()
    assert table["sections"] == [] and table["direct"] == [
        {
            "application": number,
            "name": "张*明",
            "pool": "day",
            "basis": "undersubscribed",
            "round": "private",
        }
    ]
    rep = json.loads((await api.client.get(f"/campaigns/{api.campaign_id}/fairness")).content)
    assert rep["tests"] == [] and "nothing to test" in rep["note"]
    bundle = await download(api, tmp_path)
    report = verify_bundle(bundle, [note.verifier_key_text(api.ctx.settings.log_signing_key)])
    assert failed(report) == {}


async def test_vacancy_after_publication_current_seat_and_recosigned_bundle(
    api: Api, drawn: Drawn, tmp_path: Path
) -> None:
    """A family declines after publication, the seat goes down the published waitlist: the
    lookup shows the seat held now; the grown log's bundle verifies once notaries cosign it."""
    cid = api.campaign_id
    await publish(api)
    published_cp = await cosign_all(api, drawn, k=2)
    (section,) = (await api.client.get(f"/campaigns/{cid}/results/PRV1")).json()["sections"]
    parent = {n: ("p1" if i % 2 else "p2") for i, n in enumerate(drawn.numbers)}
    gone, nxt = section["admitted"][0]["application"], section["waitlist"][0]["application"]
    r = await api.client.post(
        f"/applications/{gone}/placement", json={"decision": "decline"}, headers=api.h[parent[gone]]
    )
    assert r.status_code == 200, r.text
    r = await api.client.post(
        f"/applications/{nxt}/offer", json={"decision": "accept"}, headers=api.h[parent[nxt]]
    )
    assert r.status_code == 200, r.text

    async def look(number: str) -> dict[str, Any]:
        i = drawn.numbers.index(number)
        r = await api.client.post(
            f"/campaigns/{cid}/results/lookup",
            json={"application": number, "kind": "phone", "last4": PHONES[i][-4:]},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    g = await look(gone)
    assert g["status"] == "admitted" and g["current"]["placement"] is None
    n = await look(nxt)
    assert n["placement"]["school"] == "PRV2"  # the snapshot at publication
    assert n["current"]["placement"]["school"] == "PRV1"
    assert n["current"]["placement"]["basis"] == "waitlist"

    keys = trust(api, drawn)
    b = verify_bundle(
        await download(api, tmp_path / "grown"), keys, witnesses=2, previous=published_cp
    )
    assert set(failed(b)) == {"log.cosignatures"}, failed(b)
    assert any(c.name == "log.checkpoints" and c.status == "passed" for c in b.checks)
    # notaries cosign the log's current checkpoint through the API
    current = (await api.client.get("/log/checkpoint")).text
    for i, who in enumerate(("w0", "w1")):
        cosigned = add_cosignature(current, drawn.witness_skeys[i], int(api.clock().timestamp()))
        r = await api.client.post(
            f"/campaigns/{cid}/publication/cosignatures",
            json={"checkpoint": cosigned},
            headers=api.h[who],
        )
        assert r.status_code == 200, r.text
    b = verify_bundle(
        await download(api, tmp_path / "recosigned"), keys, witnesses=2, previous=published_cp
    )
    assert b.verdict == "VALID", failed(b)
