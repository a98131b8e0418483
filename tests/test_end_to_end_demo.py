"""``paiwei demo``: the command end to end (a real uvicorn subprocess on 127.0.0.1), its honest
stop when the service lacks a step, its options, the demo clock and the seeds-to-API mapping."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from rich.console import Console

from admissions.applications.schemas import ApplicationIn
from admissions.applications.service import check_age, check_choices, parse_id_number
from admissions.campaigns.schemas import CampaignIn
from admissions.cli import build_parser
from admissions.demo.flow import DemoError, Flow
from admissions.demo.mapping import application_body, campaign_body, review_body, school_body
from admissions.demo.run import Demo, Options, main
from admissions.demo.server import FileClock, write_clock
from admissions.schools.schemas import SchoolIn
from admissions.settings import SettingsError
from audit.verify import verify_bundle
from seeds.city import demo_city
from seeds.families import families

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_command_runs_and_its_bundle_verifies(tmp_path: Path) -> None:
    """``python -m admissions demo --families 150`` (what scripts/demo runs, smaller): exit 0,
    every step ok, and the bundle it leaves behind verifies again from its files."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    db = tmp_path / "demo.sqlite3"
    proc = subprocess.run(
        [sys.executable, "-m", "admissions", "demo", "--families", "150", "--db", str(db)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "paiwei-audit verify: VALID" in out
    assert "The whole campaign ran and its published bundle verified." in out
    assert "INCOMPLETE" not in out and "Traceback" not in out
    files = tmp_path / "demo-files"
    (bundle,) = list((files / "bundle").iterdir())
    trust = (files / "trust.vkeys").read_text("utf-8").split()
    previous = (files / "publication" / "checkpoint.cosigned.txt").read_text("utf-8")
    report = verify_bundle(bundle, trust, witnesses=3, previous=previous)
    assert report.verdict == "VALID", [(c.name, c.detail) for c in report.checks]
    assert (files / "verify-report.html").stat().st_size > 0
    assert len(list((files / "receipts").glob("*.tlog-proof"))) == 3


def test_demo_stops_cleanly_when_the_service_lacks_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service without ``runDraw``: the demo runs everything before the ceremony, then says
    plainly what was not run, exits 1 and stops the service (no traceback, no pretending)."""
    original = Flow.load_operations

    async def without_draw(self: Flow) -> int:
        n = await original(self)
        self.s.operations.discard("runDraw")
        return n - 1

    monkeypatch.setattr(Flow, "load_operations", without_draw)
    buf = io.StringIO()
    opts = Options(
        families=30,
        seed=11,
        db=tmp_path / "x.sqlite3",
        console=Console(file=buf, width=200),
    )
    demo = Demo(opts, opts.console or Console())
    code = asyncio.run(demo.run())
    out = buf.getvalue()
    assert code == 1
    assert demo.proc is not None and demo.proc.poll() is not None  # the service was stopped
    assert "this build of the service has no runDraw operation" in out
    assert "INCOMPLETE" in out
    assert "Not run: publication and bundle, paiwei-audit verify." in out
    assert "verify: VALID" not in out and "The whole campaign ran" not in out
    ok = {r.title for r in demo.records if r.status == "ok"}
    assert {"registration", "review", "freeze the rosters"} <= ok


def test_demo_refuses_an_existing_database(tmp_path: Path) -> None:
    db = tmp_path / "taken.sqlite3"
    db.write_bytes(b"")
    buf = io.StringIO()
    code = main(Options(families=30, seed=1, db=db, console=Console(file=buf, width=200)))
    assert code == 2
    assert "already exists" in buf.getvalue() and "--db" in buf.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--families", "5"], "between 20 and 100000"),
        (["--families", "many"], "expected a whole number"),
        (["--concurrency", "0"], "must be at least 1"),
    ],
)
def test_demo_options_are_checked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["demo", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_demo_options_defaults() -> None:
    args = build_parser().parse_args(["demo"])
    assert (args.families, args.seed, args.db, args.keep_serving) == (2000, 2026, None, False)
    args = build_parser().parse_args(
        ["demo", "--families", "300", "--seed", "5", "--db", "d.sqlite3", "--keep-serving"]
    )
    assert (args.families, args.seed, str(args.db), args.keep_serving) == (
        300,
        5,
        "d.sqlite3",
        True,
    )


def test_file_clock_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    t0 = datetime(2026, 5, 20, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    write_clock(path, t0)
    clock = FileClock(path)
    assert clock() == t0
    write_clock(path, t0 + timedelta(days=3))
    assert clock() == t0 + timedelta(days=3)
    path.write_text("2026-05-20T08:00:00", "ascii")  # naive: refused
    with pytest.raises(SettingsError, match="naive"):
        clock()
    with pytest.raises(FileNotFoundError):
        FileClock(tmp_path / "missing")


def test_seeds_families_map_to_valid_requests() -> None:
    """Every school and every child of a seeds city becomes a request the service accepts
    (schema, ID number, age rule, choices and claims against the schools), and a review decides
    each claim by its ground truth."""
    city = demo_city(seed=3, campaign_year=2026, expected_families=800)
    fams = families(city, n=800, seed=3)
    campaign = msgspec.convert(campaign_body(city), CampaignIn)
    assert campaign.open_at < campaign.close_at < campaign.review_deadline
    assert campaign.open_at.astimezone(UTC) <= min(f.registered_at for f in fams)
    assert max(f.registered_at for f in fams) < campaign.close_at

    class _School:
        def __init__(self, s: SchoolIn) -> None:
            self.kind, self.catchments = s.kind, s.catchments
            self.pools = [msgspec.to_builtins(p) for p in s.pools]
            self.reserved = [msgspec.to_builtins(r) for r in s.reserved]
            self.bands = [msgspec.to_builtins(b) for b in s.bands]

    schools: dict[str, Any] = {}
    for s in city.schools:
        body = msgspec.convert(school_body(s), SchoolIn)
        if body.kind == "private":
            assert body.plan == sum(r.seats for r in body.reserved) + sum(
                p.seats for p in body.pools
            )
        schools[s.id] = _School(body)
    # bands: seeds rank 1 (served first) gets the highest service rank
    pub = city.public_schools()[0]
    ranks = {b["code"]: b["rank"] for b in school_body(pub)["bands"]}
    assert ranks["hukou_property"] > ranks["hukou"] > ranks["residence_permit"]
    n = 0
    for fam in fams:
        for child in fam.children:
            data = msgspec.convert(application_body(fam, child, None), ApplicationIn)
            _, birth, _ = parse_id_number(data.child.id_number)
            check_age(birth, campaign.year, campaign.rules)
            check_choices(data.choices, data.claims, data.facts, schools, campaign.rules)
            n += 1
        review = review_body(fam)
        assert [c["decision"] == "eligible" for c in review["claims"]] == [
            c.genuine for c in fam.claims
        ]
    assert n == sum(len(f.children) for f in fams)


def _flow_against(handler: Any, tmp_path: Path) -> Flow:
    from admissions.demo.flow import Api

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://demo")
    return Flow(
        Api(http),
        demo_city(seed=1, campaign_year=2026, expected_families=20),
        [],
        admin_password="x",
        set_clock=lambda _: None,
        workdir=tmp_path,
        console=Console(file=io.StringIO()),
        log_vkey="k",
    )


def test_demo_acknowledges_a_fairness_flag_and_says_so(tmp_path: Path) -> None:
    """A fair draw is flagged about 1% of the time: the demo publishes with the
    acknowledgement the service asks for (naming exactly the flagged tests) and says so."""
    sent: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append(body)
        if body is None:
            names = "ticket_uniformity, ticket_vs_district"
            problem = {
                "status": 409,
                "detail": f"the fairness check flagged {names}",
                "errors": [{"field": "fairness", "reason": f"flagged: {names}"}],
            }
            return httpx.Response(409, json=problem)
        return httpx.Response(200, json={"fairness_flagged": True})

    flow = _flow_against(handler, tmp_path)
    out = asyncio.run(flow.publish("C1", "token"))
    assert out == {"fairness_flagged": True}
    assert sent[0] is None
    assert sent[1]["acknowledge_flags"] == ["ticket_uniformity", "ticket_vs_district"]
    assert len(sent[1]["reason"]) >= 20
    assert any("flagged ticket_uniformity, ticket_vs_district" in n for n in flow.notes)


def test_demo_stops_on_any_other_publication_conflict(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        problem = {"status": 409, "detail": "a draw is missing", "errors": [{"field": "draws"}]}
        return httpx.Response(409, json=problem)

    flow = _flow_against(handler, tmp_path)
    with pytest.raises(DemoError, match="a draw is missing"):
        asyncio.run(flow.publish("C1", "token"))
