"""A whole campaign through the HTTP API, on SQLite and PostgreSQL (the ``backend`` fixture).

The users are the demo's (``admissions.demo.flow.Flow``) driving Litestar's ``AsyncTestClient``:
staff accounts, campaign and schools, seeds families signing up and registering, officers
reviewing, freeze, two ceremony rounds with three witnesses (``paiwei-audit commit/reveal``) and
real drand quicknet beacons, publication with the witnesses' cosignatures, the bundle download and
``paiwei-audit verify``. The assertions below then check the outcome independently of the flow:
the service's own records against the seeds' ground truth, capacities, the published tables, the
log against the bundle, and a second verification of the bundle with ``audit.verify``.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from rich.console import Console

from admissions.accounts.service import create_account
from admissions.demo.flow import Api, Flow
from audit import note
from audit.verify import verify_bundle
from seeds.city import demo_city
from seeds.families import families

pytestmark = pytest.mark.anyio

FAMILIES = 60
SEED = 7


async def run_campaign(app: Any, clock: Any, db: Any, tmp_path: Path) -> tuple[Flow, list[str]]:
    city = demo_city(seed=SEED, campaign_year=2026, expected_families=FAMILIES)
    fams = families(city, n=FAMILIES, seed=SEED)
    async with db() as s:
        await create_account(s, app.state.ctx, "admin", "admin password 1", "admin")
    async with AsyncTestClient(app=app) as client:
        flow = Flow(
            Api(client),
            city,
            fams,
            admin_password="admin password 1",
            set_clock=clock.set,
            workdir=tmp_path,
            console=Console(file=io.StringIO(), width=120),
            concurrency=4,
            log_vkey=note.verifier_key_text(app.state.ctx.settings.log_signing_key),
        )
        await flow.load_operations()
        lines = await flow.run_all()
        await check_outcome(flow, client)
    return flow, lines


async def check_outcome(flow: Flow, client: AsyncTestClient[Any]) -> None:
    cid = flow.s.campaign
    officer = {"Authorization": f"Bearer {flow.s.tokens['officer-city']}"}
    # every child registered once; the campaign went all the way
    assert len(flow.s.apps) == sum(len(f.children) for f in flow.families)
    campaign = (await client.get(f"/campaigns/{cid}")).json()
    assert campaign["phase"] == "published"

    # review: the service holds exactly the decisions the seeds' ground truth calls for
    decided: Counter[str] = Counter()
    for number, reg in flow.s.apps.items():
        r = await client.get(f"/applications/{number}", headers=officer)
        assert r.status_code == 200, r.text
        app = r.json()
        assert app["review_status"] == "eligible"
        want = ["eligible" if c.genuine else "ineligible" for c in reg.family.claims]
        assert [c["status"] for c in app["claims"]] == want
        decided.update(want)
    assert decided["eligible"] > 0

    # published tables: no school over its plan; every applicant has exactly one result
    results = (await client.get(f"/campaigns/{cid}/results")).json()
    seats = {s.id: s.plan for s in flow.city.schools}
    for school in results["schools"]:
        assert school["admitted"] <= seats[school["school"]], school
    admitted = sum(s["admitted"] for s in results["schools"])
    assert 0 < admitted <= len(flow.s.apps)
    found: Counter[str] = Counter()
    for number, reg in list(flow.s.apps.items())[:10]:
        body = {"application": number, "kind": "phone", "last4": reg.family.guardian.phone[-4:]}
        r = await client.post(f"/campaigns/{cid}/results/lookup", json=body)
        assert r.status_code == 200, r.text
        mine = r.json()
        assert mine["application"] == number and mine["status"] in ("admitted", "not-admitted")
        assert reg.child.name not in r.text and reg.child.id_number not in r.text
        found[mine["status"]] += 1
    assert found["admitted"] > 0

    # the log the service serves is the log in the bundle, and the bundle verifies again
    assert flow.s.bundle is not None
    bundle_entries = (flow.s.bundle / "log" / "entries.jsonl").read_bytes().splitlines()
    served = await flow.log_entries(len(bundle_entries))
    assert served == bundle_entries
    kinds = Counter(json.loads(e)["kind"] for e in bundle_entries)
    assert kinds["registration"] == len(flow.s.apps)
    assert kinds["draw.commit"] == kinds["draw.reveal"] == 3 * kinds["draw.roster"]
    assert kinds["draw.result"] == kinds["draw.roster"] >= 1
    # the vacancy after publication: one decline, one offer down the waitlist, accepted
    assert kinds["placement.decline"] == kinds["offer.make"] == kinds["offer.accept"] == 1
    trust = [flow.log_vkey, *(w.vkey for w in flow.s.witnesses)]
    report = verify_bundle(flow.s.bundle, trust, witnesses=3, previous=flow.s.published_checkpoint)
    assert report.verdict == "VALID", [(c.name, c.detail) for c in report.checks]
    # no personal data in the public bundle
    text = "\n".join(
        p.read_text("utf-8") for p in flow.s.bundle.rglob("*") if p.is_file() and p.suffix != ""
    )
    for reg in list(flow.s.apps.values())[:20]:
        assert reg.child.id_number not in text and reg.child.name not in text


async def test_whole_campaign_over_http(
    backend: str, app: Any, clock: Any, db: Any, tmp_path: Path
) -> None:
    flow, lines = await run_campaign(app, clock, db, tmp_path)
    assert len(lines) == len(Flow.step_titles())
    assert flow.s.verdict == "VALID"
    assert "VALID" in lines[-1] and "receipts checked VALID" in lines[-1]
