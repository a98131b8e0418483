"""The campaign over HTTP: every action of the demo after the service is up.

``Flow`` acts as each user would, through an ``httpx.AsyncClient`` (a real connection to the
demo's uvicorn, or Litestar's ``AsyncTestClient`` in the end-to-end tests): the admin creates staff
accounts; the city officer creates the campaign and its schools and opens it; each family signs
up, logs in and registers its children (multiples bundled), with bounded concurrency and the clock
following the families' registration times; district officers list and review their
applications (a claim is rejected exactly when the seeds mark it not ``genuine``); the city
officer closes the window, marks the campaign reviewed and freezes it; then the ceremony, the
publication, the bundle download and ``paiwei-audit verify``.

The clock is the caller's (``set_clock``): the demo writes the service's clock file, the tests
set a ``FakeClock``. A step whose operation the service does not offer (checked against its
OpenAPI document) raises ``NotAvailable``; it is reported, never faked.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tarfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from admissions.demo.beacons import PRIVATE_ROUND, PUBLIC_ROUND, QuicknetRound
from admissions.demo.mapping import application_body, campaign_body, review_body, school_body
from audit.beacon import quicknet_round_time
from seeds.city import City
from seeds.families import Child, Family

PASSWORD_LEN = 18

# The draw's witnesses (docs/ceremony.md): a notary of the city's notary office, a parents'
# representative and a deputy of the people's congress. Each makes its own Ed25519 key pair with
# ``paiwei-audit keygen`` (key names are signed-note names: no spaces, no '+').
WITNESSES = (
    ("witness-notary", "notary", "notary.wuxi.demo/wang", "无锡市公证处 公证员"),
    ("witness-parents", "witness", "parents.wuxi.demo/li", "家长代表"),
    ("witness-deputy", "witness", "npc.wuxi.demo/zhao", "人大代表"),
)


def paiwei_audit(*argv: str) -> tuple[int, str, str]:
    """Run a ``paiwei-audit`` command in-process (audit.cli.main) and capture its output, as a
    witness or notary would run it on their own laptop."""
    import contextlib
    import io

    from audit.cli import main as audit_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = audit_main(list(argv))
    return code, out.getvalue(), err.getvalue()


class DemoError(Exception):
    """A step failed: the message says which request and what the service answered."""


class NotAvailable(Exception):
    """This build of the service does not offer what the step needs (reported, never faked)."""


@dataclass
class Registered:
    number: str
    family: Family
    child: Child
    receipt: dict[str, Any]


@dataclass
class Witness:
    account: str
    role: str
    title: str
    skey_file: Path
    vkey: str


@dataclass
class State:
    """What the driver learns as the campaign proceeds (for later steps and the summary)."""

    campaign: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    apps: dict[str, Registered] = field(default_factory=dict)
    rejected_claims: Counter[str] = field(default_factory=Counter)
    rosters: list[dict[str, Any]] = field(default_factory=list)
    placed_without_lottery: int = 0
    operations: set[str] = field(default_factory=set)
    summary: dict[str, str] = field(default_factory=dict)
    witnesses: list[Witness] = field(default_factory=list)
    published_checkpoint: str = ""
    bundle: Path | None = None
    verdict: str = ""
    now: datetime = datetime(2000, 1, 1, tzinfo=UTC)


def _problem(r: httpx.Response) -> str:
    try:
        p = r.json()
    except ValueError:
        return r.text[:300]
    if not isinstance(p, dict):
        return str(p)[:300]
    parts = [str(p.get("detail") or p.get("title") or "")]
    for e in p.get("errors") or []:
        if isinstance(e, dict):
            parts.append(f"{e.get('field')}: {e.get('reason')}")
    return "; ".join(x for x in parts if x)


class Api:
    """httpx against the running service; every unexpected status becomes a DemoError."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.requests = 0
        self.timing: dict[str, tuple[int, float]] = {}

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.requests += 1
        t0 = time.perf_counter()
        try:
            r = await self.http.request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise DemoError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        kind = (
            method
            + " "
            + "/".join(
                "{}" if any(ch.isdigit() for ch in part) else part for part in path.split("/")
            )
        )
        n, tot = self.timing.get(kind, (0, 0.0))
        self.timing[kind] = (n + 1, tot + time.perf_counter() - t0)
        if r.status_code not in expect:
            raise DemoError(f"{method} {path} -> {r.status_code}: {_problem(r)}")
        return r

    async def close(self) -> None:
        await self.http.aclose()


class Flow:
    """The campaign's users, over HTTP. Steps return a one-line description of what happened."""

    def __init__(
        self,
        api: Api,
        city: City,
        families: list[Family],
        *,
        admin_password: str,
        set_clock: Callable[[datetime], None],
        workdir: Path,
        console: Console,
        concurrency: int = 8,
        log_vkey: str,
    ) -> None:
        self.api = api
        self.city = city
        self.families = families
        self.admin_password = admin_password
        self._set_clock = set_clock
        self.workdir = workdir
        self.console = console
        self.concurrency = concurrency
        self.log_vkey = log_vkey
        self.s = State()
        # For the closing summary: honest notes, result tables, commands to try next.
        self.notes: list[str] = []
        self.tables: list[Table] = []
        self.next_commands: list[str] = []

    # ---------------------------------------------------------------- plumbing

    def set_clock(self, when: datetime) -> None:
        """Move the service's clock forward (never back)."""
        if when > self.s.now:
            self.s.now = when
            self._set_clock(when)

    def progress(self) -> Progress:
        return Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )

    async def pool(
        self,
        items: list[Any],
        work: Callable[[Any], Awaitable[None]],
        description: str,
        before: Callable[[Any], None] | None = None,
    ) -> None:
        """Run ``work`` on every item, at most ``concurrency`` at a time, started in list order
        (``before`` runs as an item is taken, e.g. to move the clock), with a progress bar."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for it in items:
            queue.put_nowait(it)
        t0 = time.monotonic()
        with self.progress() as bar:
            task = bar.add_task(description, total=len(items), rate="")

            async def worker() -> None:
                while True:
                    try:
                        it = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    if before is not None:
                        before(it)
                    await work(it)
                    done = bar.tasks[task].completed + 1
                    rate = done / max(time.monotonic() - t0, 1e-6)
                    bar.update(task, advance=1, rate=f"{rate:,.0f}/s")

            workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
            try:
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()

    async def load_operations(self) -> int:
        """Read the service's OpenAPI document: which operations this build offers."""
        schema = (await self.api.call("GET", "/schema/openapi.json")).json()
        for item in schema.get("paths", {}).values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    self.s.operations.add(op["operationId"])
        return len(self.s.operations)

    def require(self, *operations: str, what: str) -> None:
        missing = [op for op in operations if op not in self.s.operations]
        if missing:
            raise NotAvailable(
                f"{what}: this build of the service has no {', '.join(missing)} "
                "operation (see /schema)"
            )

    @staticmethod
    def step_titles() -> list[tuple[str, str]]:
        """(title, method name) of every step, in order."""
        return [
            ("staff accounts", "step_staff"),
            ("campaign and schools", "step_campaign"),
            ("registration", "step_register"),
            ("review", "step_review"),
            ("freeze the rosters", "step_freeze"),
            ("ceremony: witnesses, beacon, draw", "step_ceremony"),
            ("publication and bundle", "step_publish"),
            ("paiwei-audit verify", "step_verify"),
        ]

    def steps(self) -> list[tuple[str, Callable[[], Awaitable[str]]]]:
        return [(title, getattr(self, name)) for title, name in self.step_titles()]

    async def run_all(self) -> list[str]:
        """Every step in order (tests); returns their descriptions."""
        return [await fn() for _, fn in self.steps()]

    # ---------------------------------------------------------------- steps

    async def step_staff(self) -> str:
        api = self.api
        r = await api.call(
            "POST",
            "/auth/login",
            json={"username": "admin", "password": self.admin_password},
        )
        admin = r.json()["access_token"]
        self.s.tokens["admin"] = admin
        staff: list[tuple[str, str, str | None]] = [("officer-city", "officer", None)]
        staff += [(f"officer-{d.code}", "officer", d.code) for d in self.city.districts]
        for name, role, district in staff:
            password = secrets.token_urlsafe(PASSWORD_LEN)
            body = {"username": name, "password": password, "role": role, "district": district}
            await api.call("POST", "/accounts", token=admin, json=body)
            r = await api.call("POST", "/auth/login", json={"username": name, "password": password})
            self.s.tokens[name] = r.json()["access_token"]
        keys = self.workdir / "witnesses"
        keys.mkdir(parents=True, exist_ok=True)
        for name, role, key_name, title in WITNESSES:
            password = secrets.token_urlsafe(PASSWORD_LEN)
            body = {"username": name, "password": password, "role": role, "district": None}
            await api.call("POST", "/accounts", token=admin, json=body)
            r = await api.call("POST", "/auth/login", json={"username": name, "password": password})
            self.s.tokens[name] = r.json()["access_token"]
            code, _, err = paiwei_audit("keygen", key_name, "--out", str(keys / name))
            if code != 0:
                raise DemoError(f"paiwei-audit keygen {key_name}: {err.strip()}")
            vkey = (keys / f"{name}.vkey").read_text("utf-8").strip()
            self.s.witnesses.append(Witness(name, role, title, keys / f"{name}.skey", vkey))
        return (
            f"admin created 1 city officer, {len(self.city.districts)} district officers and "
            f"{len(WITNESSES)} witnesses (notary, parents' representative, deputy) with "
            "POST /accounts; each logged in; each witness made a key pair (paiwei-audit keygen)"
        )

    async def step_campaign(self) -> str:
        api = self.api
        city = self.s.tokens["officer-city"]
        r = await api.call("POST", "/campaigns", token=city, json=campaign_body(self.city))
        cid = r.json()["id"]
        self.s.campaign = cid
        for school in self.city.schools:
            await api.call(
                "POST", f"/campaigns/{cid}/schools", token=city, json=school_body(school)
            )
        opens = datetime.fromisoformat(campaign_body(self.city)["open_at"])
        self.set_clock(opens)
        await api.call("POST", f"/campaigns/{cid}/phase", token=city, json={"to": "open"})
        return (
            f"campaign {cid} with {len(self.city.schools)} schools; registration opened "
            f"{opens:%Y-%m-%d %H:%M} CST"
        )

    async def step_register(self) -> str:
        api = self.api
        cid = self.s.campaign
        bundles = 0

        def before(fam: Family) -> None:
            self.set_clock(fam.registered_at)

        async def one(fam: Family) -> None:
            nonlocal bundles
            username = f"family-{fam.id.lower()}"
            password = secrets.token_urlsafe(PASSWORD_LEN)
            creds = {"username": username, "password": password}
            await api.call("POST", "/accounts/signup", json=creds)
            token = (await api.call("POST", "/auth/login", json=creds)).json()["access_token"]
            first: str | None = None
            for child in fam.children:
                body = application_body(fam, child, first if fam.bundle_multiples else None)
                r = await api.call("POST", f"/campaigns/{cid}/applications", token=token, json=body)
                out = r.json()
                self.s.apps[out["number"]] = Registered(out["number"], fam, child, out["receipt"])
                if first is None:
                    first = out["number"]
                elif fam.bundle_multiples:
                    bundles += 1
            self.s.tokens[username] = token

        await self.pool(self.families, one, "families sign up and register", before)
        twins = sum(1 for f in self.families if len(f.children) > 1)
        return (
            f"{len(self.families):,} families signed up and registered {len(self.s.apps):,} "
            f"children ({_n(twins, 'set')} of multiples, {_n(bundles, 'bundled application')})"
        )

    async def step_review(self) -> str:
        api = self.api
        cid = self.s.campaign
        city = self.s.tokens["officer-city"]
        close = datetime.fromisoformat(campaign_body(self.city)["close_at"])
        self.set_clock(close)
        await api.call("POST", f"/campaigns/{cid}/phase", token=city, json={"to": "closed"})
        self.set_clock(close + timedelta(days=1, hours=1))
        # Each district officer lists the applications of their district (paged), then reviews.
        queue: list[tuple[str, str]] = []
        for d in self.city.districts:
            token = self.s.tokens[f"officer-{d.code}"]
            offset = 0
            while True:
                page = (
                    await api.call(
                        "GET",
                        f"/campaigns/{cid}/applications",
                        token=token,
                        params={"limit": 200, "offset": offset},
                    )
                ).json()
                queue += [(item["number"], token) for item in page["items"]]
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    break
        if len(queue) != len(self.s.apps):
            raise DemoError(
                f"officers' lists hold {len(queue)} applications, {len(self.s.apps)} registered"
            )

        async def one(item: tuple[str, str]) -> None:
            number, token = item
            fam = self.s.apps[number].family
            for c in fam.claims:
                if not c.genuine:
                    self.s.rejected_claims[c.kind] += 1
            await api.call(
                "POST", f"/applications/{number}/review", token=token, json=review_body(fam)
            )

        await self.pool(queue, one, "officers review applications")
        rej = self.s.rejected_claims
        return (
            f"{len(queue):,} applications decided by {len(self.city.districts)} district officers; "
            f"claims found not genuine and rejected: {rej['priority_band']} band, "
            f"{rej['reserved']} reserved"
        )

    async def step_freeze(self) -> str:
        api = self.api
        cid = self.s.campaign
        city = self.s.tokens["officer-city"]
        deadline = datetime.fromisoformat(campaign_body(self.city)["review_deadline"])
        self.set_clock(deadline + timedelta(minutes=5))
        await api.call("POST", f"/campaigns/{cid}/phase", token=city, json={"to": "reviewed"})
        self.set_clock(deadline + timedelta(days=1))
        out = (await api.call("POST", f"/campaigns/{cid}/freeze", token=city)).json()
        self.s.rosters = out["rosters"]
        self.s.placed_without_lottery = out["placed_without_lottery"]
        in_lottery = sum(r["applicants"] for r in self.s.rosters)
        return (
            f"frozen: {_n(len(self.s.rosters), 'lottery roster')} ({_n(in_lottery, 'applicant')}), "
            f"{self.s.placed_without_lottery:,} placed without a lottery (reserved seats, "
            "undersubscribed pools); roster digests logged in roster.freeze"
        )

    async def step_ceremony(self) -> str:
        self.require(
            "openDraw",
            "submitCommit",
            "submitReveal",
            "enterBeacon",
            "runDraw",
            "getDraw",
            what="the lottery ceremony",
        )
        cid = self.s.campaign
        t_private = datetime.fromtimestamp(quicknet_round_time(PRIVATE_ROUND.round), UTC)
        t_public = datetime.fromtimestamp(quicknet_round_time(PUBLIC_ROUND.round), UTC)
        self.notes.append(
            "Beacon: this machine cannot fetch a future drand round, so the demo uses the real "
            f"quicknet rounds {PRIVATE_ROUND.round} and {PUBLIC_ROUND.round} (published "
            f"{t_private:%Y-%m-%d %H:%M:%S}Z and {t_public:%H:%M:%S}Z) and holds the ceremony "
            "just before those times on the demo clock, so they are announced while still in "
            "the demo's future; their BLS signatures are verified offline, nothing is "
            "simulated. A real public round would be announced days after the private result; "
            "here it is 24 s later because only these two signatures are at hand."
        )
        private = await self.draw_round(
            "private",
            PRIVATE_ROUND,
            open_at=t_private - timedelta(hours=2),
            commit_deadline=t_private - timedelta(hours=1),
            reveal_deadline=t_private - timedelta(minutes=10),
        )
        details = [self.draw_line(private)]
        if private.get("public_rosters"):
            public = await self.draw_round(
                "public",
                PUBLIC_ROUND,
                open_at=t_private + timedelta(seconds=2),
                commit_deadline=t_public - timedelta(seconds=14),
                reveal_deadline=t_public - timedelta(seconds=4),
            )
            details.append(self.draw_line(public))
        campaign = (await self.api.call("GET", f"/campaigns/{cid}")).json()
        if campaign["phase"] != "drawn":
            raise DemoError(f"after the draws the campaign is {campaign['phase']}, not drawn")
        return "; ".join(details) + "; campaign drawn"

    def draw_line(self, d: dict[str, Any]) -> str:
        revealed = sum(1 for w in d["witnesses"] if w["revealed"])
        return (
            f"{d['round']} draw {d['id']}: {d['applicants']:,} applicants, {d['schools']} lottery "
            f"schools, {revealed}/{len(d['witnesses'])} reveals, beacon {d['beacon']['round']}, "
            f"seed {d['seed'][:16]}…, {d['placed']:,} placed"
        )

    async def draw_round(
        self,
        round_: str,
        beacon: QuicknetRound,
        *,
        open_at: datetime,
        commit_deadline: datetime,
        reveal_deadline: datetime,
    ) -> dict[str, Any]:
        """One round's ceremony: the officer opens the draw (policy, witnesses, the future
        beacon round, deadlines: draw.roster); each witness commits (paiwei-audit commit) and,
        after the commit phase, reveals (paiwei-audit reveal); once the round is published the
        officer enters its evidence (draw.beacon) and runs the draw (draw.seed, draw.result)."""
        api = self.api
        city = self.s.tokens["officer-city"]
        self.set_clock(open_at)
        body = {
            "round": round_,
            "mechanism": "deferred-acceptance",
            "tie_breaking": "single",
            "group_policy": "admit-together",
            "beacon": {"source": "drand-quicknet", "round": beacon.round},
            "witnesses": [{"account": w.account, "vkey": w.vkey} for w in self.s.witnesses],
            "min_reveals": 2,
            "commit_deadline": commit_deadline.isoformat(),
            "reveal_deadline": reveal_deadline.isoformat(),
            "confirm_deadline": (open_at + timedelta(days=14)).isoformat(),
            "offer_hours": 48,
        }
        d = (
            await api.call("POST", f"/campaigns/{self.s.campaign}/draws", token=city, json=body)
        ).json()
        draw_id, roster = d["id"], d["instance_sha256"]
        notes = self.workdir / "draws" / draw_id
        notes.mkdir(parents=True, exist_ok=True)
        with self.progress() as bar:
            task = bar.add_task(
                f"{round_} draw: witnesses commit and reveal",
                total=2 * len(self.s.witnesses),
                rate="",
            )

            async def witness_step(w: Any, step: str, secret_flag: str) -> None:
                """One witness makes its note offline with paiwei-audit and submits it."""
                code, _, err = paiwei_audit(
                    step,
                    "--key",
                    str(w.skey_file),
                    "--draw",
                    draw_id,
                    "--roster",
                    roster,
                    secret_flag,
                    str(notes / f"{w.account}.secret"),
                    "-o",
                    str(notes / f"{w.account}.{step}"),
                )
                if code != 0:
                    raise DemoError(f"paiwei-audit {step} ({w.title}): {err.strip()}")
                await api.call(
                    "POST",
                    f"/draws/{draw_id}/{step}",
                    token=self.s.tokens[w.account],
                    json={"note": (notes / f"{w.account}.{step}").read_text("utf-8")},
                )
                bar.update(task, advance=1)

            for w in self.s.witnesses:
                await witness_step(w, "commit", "--secret-out")
            self.set_clock(commit_deadline + (reveal_deadline - commit_deadline) / 2)
            for w in self.s.witnesses:
                await witness_step(w, "reveal", "--secret")
        published = datetime.fromtimestamp(quicknet_round_time(beacon.round), UTC)
        self.set_clock(published + timedelta(seconds=1))
        evidence = {
            "source": "drand-quicknet",
            "round": beacon.round,
            "signature": beacon.signature,
            "randomness": beacon.randomness,
        }
        await api.call("POST", f"/draws/{draw_id}/beacon", token=city, json={"evidence": evidence})
        out = (await api.call("POST", f"/draws/{draw_id}/run", token=city)).json()
        if out["status"] != "drawn":
            raise DemoError(f"draw {draw_id} {out['status']}: {out.get('failure')}")
        self.s.summary[f"{round_} draw: applicants / placed"] = (
            f"{out['applicants']:,} / {out['placed']:,}"
        )
        return dict(out)

    async def step_publish(self) -> str:
        self.require(
            "publishCampaign",
            "listResults",
            "publicationCheckpoint",
            "cosignPublication",
            "downloadBundle",
            "lookupResult",
            "getFairness",
            what="publication",
        )
        api = self.api
        cid = self.s.campaign
        city = self.s.tokens["officer-city"]
        self.set_clock(self.now_hint() + timedelta(hours=2))
        pub = await self.publish(cid, city)
        # The notaries (the draws' witnesses) cosign the publication checkpoint: each fetches
        # it and the log entries, runs `paiwei-audit cosign` on its laptop, and posts the result.
        cp = (await api.call("GET", f"/campaigns/{cid}/publication/checkpoint")).text
        files = self.workdir / "publication"
        files.mkdir(parents=True, exist_ok=True)
        (files / "checkpoint.txt").write_text(cp, "utf-8")
        entries = await self.log_entries(int(pub["log_size"]))
        (files / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in entries))
        for w in self.s.witnesses:
            self.set_clock(self.now_hint() + timedelta(minutes=20))
            out = files / f"checkpoint.{w.account}.txt"
            code, _, err = paiwei_audit(
                "cosign",
                str(files / "checkpoint.txt"),
                "--key",
                str(w.skey_file),
                "--state",
                str(self.workdir / "witnesses" / f"{w.account}-state"),
                "--log-key",
                self.log_vkey,
                "--entries",
                str(files / "entries.jsonl"),
                "--time",
                str(int(self.now_hint().timestamp())),
                "-o",
                str(out),
            )
            if code != 0:
                raise DemoError(f"paiwei-audit cosign ({w.title}): {err.strip()}")
            await api.call(
                "POST",
                f"/campaigns/{cid}/publication/cosignatures",
                token=self.s.tokens[w.account],
                json={"checkpoint": out.read_text("utf-8")},
            )
        cosigned = (await api.call("GET", f"/campaigns/{cid}/publication/checkpoint")).text
        (files / "checkpoint.cosigned.txt").write_text(cosigned, "utf-8")
        self.s.published_checkpoint = cosigned
        results = (await api.call("GET", f"/campaigns/{cid}/results")).json()
        self.results_tables(results)
        await self.family_lookups()
        vacancy = ""
        if {"answerPlacement", "answerOffer", "getStanding"} <= self.s.operations:
            vacancy = "; vacancy: " + await self.vacancy(results)
        else:
            self.notes.append("Vacancies: this build has no placement/offer answers; not shown.")
        # Anyone downloads the bundle (a .tar.gz with one top directory).
        self.set_clock(self.now_hint() + timedelta(hours=1))
        r = await api.call("GET", f"/campaigns/{cid}/bundle")
        archive = self.workdir / f"{cid}-bundle.tar.gz"
        archive.write_bytes(r.content)
        dest = self.workdir / "bundle"
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir()
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(dest, filter="data")
        (top,) = list(dest.iterdir())
        self.s.bundle = top
        admitted = sum(x["admitted"] for x in results["schools"])
        flagged = await self.fairness_table()
        return (
            f"published {_n(len(pub['draws']), 'draw')}, {pub['results']:,} family results and "
            f"{pub['schools']} school tables ({admitted:,} admitted); {flagged}; "
            f"{len(self.s.witnesses)} witnesses cosigned the checkpoint (size {pub['log_size']:,})"
            f"{vacancy}; bundle downloaded ({len(r.content) / 1e6:.1f} MB) to {top}"
        )

    async def step_verify(self) -> str:
        if self.s.bundle is None:
            raise NotAvailable("there is no published bundle to verify")
        files = self.workdir / "publication"
        trust = [self.log_vkey, *(w.vkey for w in self.s.witnesses)]
        report_html = self.workdir / "verify-report.html"
        now = int(self.now_hint().timestamp())
        argv = [
            "verify",
            str(self.s.bundle),
            "--trust",
            *trust,
            "--witnesses",
            str(len(self.s.witnesses)),
            "--previous",
            str(files / "checkpoint.cosigned.txt"),
            "--now",
            str(now),
            "--json",
            "--html",
            str(report_html),
        ]
        code, out, err = paiwei_audit(*argv)
        if code == 2:
            raise DemoError(f"paiwei-audit verify: unusable input: {err.strip()}")
        report = json.loads(out)
        checks = report.get("checks", [])
        counts = Counter(c.get("status") for c in checks)
        self.s.verdict = str(report.get("verdict"))
        (self.workdir / "trust.vkeys").write_text("\n".join(trust) + "\n", "utf-8")
        self.next_commands.append(
            f"verify yourself: paiwei-audit verify {self.s.bundle} --trust "
            f"{self.workdir / 'trust.vkeys'} --witnesses {len(self.s.witnesses)} "
            f"--previous {files / 'checkpoint.cosigned.txt'} --now {now}"
        )
        self.next_commands.append(f"printable report: {report_html}")
        receipts = await self.check_receipts()
        if code != 0:
            bad = [f"{c.get('name')}: {c.get('detail')}" for c in checks if c["status"] != "passed"]
            raise DemoError(f"paiwei-audit verify: {self.s.verdict} ({'; '.join(bad[:5])})")
        self.s.summary["paiwei-audit verify"] = (
            f"{self.s.verdict} ({counts['passed']} checks passed)"
        )
        return (
            f"paiwei-audit verify: {self.s.verdict}, {counts['passed']} of {len(checks)} checks "
            f"passed (log signature, {len(self.s.witnesses)} cosignatures, consistency with the "
            f"published checkpoint, every draw recomputed); {receipts}"
        )

    # ---------------------------------------------------------------- publication helpers

    def now_hint(self) -> datetime:
        """The demo's current time (the last time the flow set)."""
        return self.s.now

    async def log_entries(self, size: int) -> list[bytes]:
        out: list[bytes] = []
        while len(out) < size:
            page = (
                await self.api.call(
                    "GET", "/log/entries", params={"start": len(out), "limit": 1000}
                )
            ).json()
            if not page["entries"]:
                break
            out += [e["entry"].encode() for e in page["entries"]]
        return out[:size]

    def results_tables(self, results: dict[str, Any]) -> None:
        schools = results["schools"]
        seats = sum(x["seats"] for x in schools)
        admitted = sum(x["admitted"] for x in schools)
        waiting = sum(x["waitlist"] for x in schools)
        self.s.summary["published: seats / admitted / waitlisted"] = (
            f"{seats:,} / {admitted:,} / {waiting:,}"
        )
        t = Table(title="published results: the most oversubscribed schools")
        t.add_column("school", no_wrap=True, overflow="ellipsis", max_width=18)
        for col in ("seats", "applied", "admitted", "waitlist"):
            t.add_column(col, justify="right")
        t.add_column("cutoff", overflow="fold")
        ranked = sorted(schools, key=lambda x: -x["applicants"] / max(x["seats"], 1))
        for x in ranked[:8]:
            cuts = []
            for seat, v in sorted(x["cutoffs"].items()):
                if isinstance(v, dict) and v.get("lottery_number") is not None:
                    where = seat.rsplit("/", 1)[1] if "/" in seat else ""
                    band = v.get("band") or ""
                    cuts.append(
                        " ".join(p for p in (where, band, f"No.{v['lottery_number']}") if p)
                    )
            t.add_row(
                f"{x['school']} {x['name']}",
                str(x["seats"]),
                str(x["applicants"]),
                str(x["admitted"]),
                str(x["waitlist"]),
                "; ".join(cuts) or "—",
            )
        self.tables.append(t)

    async def vacancy(self, results: dict[str, Any]) -> str:
        """After publication a family declines its private seat: the service offers it to the
        next family down the published waitlist, which accepts (placement.decline, offer.make,
        offer.accept in the log). The log has grown past the published checkpoint, so the
        witnesses cosign its current checkpoint (``paiwei-audit cosign`` checks that it extends
        the one they cosigned at publication)."""
        cid = self.s.campaign
        ranked = sorted(
            (x for x in results["schools"] if x["kind"] == "private" and x["waitlist"]),
            key=lambda x: -x["applicants"] / max(x["seats"], 1),
        )
        for school in ranked:
            table = await self.api.call("GET", f"/campaigns/{cid}/results/{school['school']}")
            for section in table.json().get("sections", []):
                if not section.get("admitted") or not section.get("waitlist"):
                    continue
                gone = section["admitted"][0]["application"]
                if gone not in self.s.apps:
                    continue
                self.set_clock(self.now_hint() + timedelta(hours=3))
                await self.api.call(
                    "POST",
                    f"/applications/{gone}/placement",
                    token=self.family_token(gone),
                    json={"decision": "decline"},
                )
                for position, w in enumerate(section["waitlist"], start=1):
                    number = w["application"]
                    standing = (
                        await self.api.call(
                            "GET",
                            f"/applications/{number}/standing",
                            token=self.family_token(number),
                        )
                    ).json()
                    offers = [
                        o
                        for o in standing.get("offers", [])
                        if o["status"] == "offered" and o["seat"] == section["id"]
                    ]
                    if offers:
                        self.set_clock(self.now_hint() + timedelta(hours=5))
                        await self.api.call(
                            "POST",
                            f"/applications/{number}/offer",
                            token=self.family_token(number),
                            json={"decision": "accept", "offer": offers[0]["id"]},
                        )
                        size = await self.cosign_current()
                        return (
                            f"{gone} declined its seat in {section['id']}; the service offered "
                            f"it to {number} (waitlist position {position}), who accepted; the "
                            f"witnesses cosigned the grown log (size {size:,})"
                        )
                raise DemoError(f"after {gone} declined, no family on the waitlist got an offer")
        return "no private school had a waitlist: no vacancy to show"

    def family_token(self, number: str) -> str:
        return self.s.tokens[f"family-{self.s.apps[number].family.id.lower()}"]

    async def cosign_current(self) -> int:
        """Each witness cosigns the log's current checkpoint (consistency with its last
        cosigned checkpoint checked by paiwei-audit cosign from the entries)."""
        cid = self.s.campaign
        files = self.workdir / "publication"
        cp = (await self.api.call("GET", "/log/checkpoint")).text
        (files / "checkpoint.current.txt").write_text(cp, "utf-8")
        size = int(cp.split("\n")[1])
        entries = await self.log_entries(size)
        (files / "entries.current.jsonl").write_bytes(b"".join(e + b"\n" for e in entries))
        for w in self.s.witnesses:
            self.set_clock(self.now_hint() + timedelta(minutes=10))
            out = files / f"checkpoint.current.{w.account}.txt"
            code, _, err = paiwei_audit(
                "cosign",
                str(files / "checkpoint.current.txt"),
                "--key",
                str(w.skey_file),
                "--state",
                str(self.workdir / "witnesses" / f"{w.account}-state"),
                "--entries",
                str(files / "entries.current.jsonl"),
                "--time",
                str(int(self.now_hint().timestamp())),
                "-o",
                str(out),
            )
            if code != 0:
                raise DemoError(f"paiwei-audit cosign ({w.title}): {err.strip()}")
            await self.api.call(
                "POST",
                f"/campaigns/{cid}/publication/cosignatures",
                token=self.s.tokens[w.account],
                json={"checkpoint": out.read_text("utf-8")},
            )
        return size

    async def publish(self, cid: str, token: str) -> dict[str, Any]:
        """Publish; if the fairness check flags (a fair draw does so about 1% of the time,
        docs/fairness.md), say so and acknowledge it: the demo's next step recomputes and
        verifies the whole draw, which is the investigation a flag calls for."""
        api = self.api
        r = await api.call("POST", f"/campaigns/{cid}/publish", token=token, expect=(200, 409))
        if r.status_code == 200:
            return dict(r.json())
        errors = r.json().get("errors") or [{}]
        reason = str(errors[0].get("reason", ""))
        if errors[0].get("field") != "fairness" or not reason.startswith("flagged: "):
            raise DemoError(f"POST /campaigns/{cid}/publish -> 409: {_problem(r)}")
        names = reason.removeprefix("flagged: ").split(", ")
        self.notes.append(
            f"The fairness check flagged {', '.join(names)} (p < 0.001). A fair draw does this "
            "about 1% of the time; the officer published with an acknowledgement, which the log "
            "records, and the verify step recomputes the draw independently."
        )
        ack = {
            "acknowledge_flags": names,
            "reason": "demo: flag acknowledged; the draw is recomputed by paiwei-audit verify",
        }
        r = await api.call("POST", f"/campaigns/{cid}/publish", token=token, json=ack)
        return dict(r.json())

    async def fairness_table(self) -> str:
        """The published fairness report (docs/fairness.md) as a table; returns a short line."""
        cid = self.s.campaign
        report = (await self.api.call("GET", f"/campaigns/{cid}/fairness")).json()
        tests = report.get("tests", [])
        t = Table(title="published fairness check (a DV-2012-like skew would be flagged)")
        t.add_column("test", no_wrap=True)
        t.add_column("p-value", justify="right")
        t.add_column("result")
        for x in tests:
            if not x.get("applicable"):
                result, p = "not applicable", "—"
            else:
                p = f"{x['p_value']:.3g}" if x.get("p_value") is not None else "—"
                result = "[red]FLAGGED[/]" if x.get("flagged") else "no skew"
            t.add_row(str(x.get("name")), p, result)
        self.tables.append(t)
        ran = [x for x in tests if x.get("applicable")]
        flagged = [x for x in ran if x.get("flagged")]
        self.s.summary["fairness tests run / flagged"] = f"{len(ran)} / {len(flagged)}"
        return f"{len(ran)} of {len(tests)} fairness tests applicable, {len(flagged)} flagged"

    async def family_lookups(self, n: int = 4) -> None:
        """Families look up their own result (application number + last 4 digits of the
        guardian's phone); the summary shows a few with different outcomes."""
        cid = self.s.campaign
        t = Table(title="families look up their results (application number + phone last 4)")
        t.add_column("application", no_wrap=True)
        t.add_column("child", no_wrap=True)
        t.add_column("result", overflow="fold")
        t.add_column("why: lottery No. and outcome per choice", overflow="fold")
        candidates = [r for r in self.s.apps.values() if len(r.family.choices) > 1][: 8 * n]
        shown: dict[str, int] = Counter()
        for reg in candidates:
            body = {
                "application": reg.number,
                "kind": "phone",
                "last4": reg.family.guardian.phone[-4:],
            }
            r = (await self.api.call("POST", f"/campaigns/{cid}/results/lookup", json=body)).json()
            pl = r.get("placement") or {}
            result = (
                f"{r.get('status')} {pl.get('school')} ({pl.get('basis')})"
                if pl
                else str(r.get("status"))
            )
            outcomes = [
                s
                for d in r.get("draws", [])
                for s in d.get("schools", [])
                if s.get("lottery_number") is not None
            ]
            key = f"{pl.get('basis')}-" + "-".join(str(s.get("outcome")) for s in outcomes)
            if shown[key] or not outcomes:
                continue
            shown[key] += 1
            why = "; ".join(
                f"{s['school'].rsplit('/', 1)[-1]}: No.{s['lottery_number']} {s['outcome']}"
                + (f" ({s['reason']})" if s.get("reason") not in (None, "admitted") else "")
                for s in outcomes
            )
            t.add_row(reg.number, str(r.get("name")), result, why)
            if len(shown) >= n:
                break
        self.tables.append(t)

    async def check_receipts(self, n: int = 3) -> str:
        """A few families check their registration receipt against the bundle
        (``paiwei-audit receipt`` with the salt from their registration response and the
        personal record they submitted)."""
        assert self.s.bundle is not None
        self.require("getReceipt", what="receipts")
        ok = 0
        regs = list(self.s.apps.values())[:: max(1, len(self.s.apps) // n)][:n]
        files = self.workdir / "receipts"
        files.mkdir(parents=True, exist_ok=True)
        for reg in regs:
            token = self.s.tokens[f"family-{reg.family.id.lower()}"]
            text = (
                await self.api.call("GET", f"/applications/{reg.number}/receipt", token=token)
            ).json()["tlog_proof"]
            (files / f"{reg.number}.tlog-proof").write_text(text, "utf-8")
            record = personal_record(self.s.campaign, reg)
            (files / f"{reg.number}.record.json").write_text(
                json.dumps(record, ensure_ascii=False, indent=1), "utf-8"
            )
            code, out, err = paiwei_audit(
                "receipt",
                str(files / f"{reg.number}.tlog-proof"),
                "--bundle",
                str(self.s.bundle),
                "--trust",
                self.log_vkey,
                "--salt",
                reg.receipt["salt"],
                "--record",
                str(files / f"{reg.number}.record.json"),
                "--json",
            )
            verdict = json.loads(out).get("verdict") if out.strip().startswith("{") else None
            if code != 0 or verdict != "VALID":
                raise DemoError(f"paiwei-audit receipt for {reg.number}: {verdict or err.strip()}")
            ok += 1
        return f"{ok} families' registration receipts checked VALID (paiwei-audit receipt)"


def personal_record(campaign: str, reg: Registered) -> dict[str, Any]:
    """The personal record as the family submitted it (docs/service.md, "Personal record"):
    what ``paiwei-audit receipt --record`` hashes with the salt from the registration."""
    body = application_body(reg.family, reg.child, None)
    return {
        "application": reg.number,
        "campaign": campaign,
        "child": {
            "name": reg.child.name,
            "id_number": reg.child.id_number,
            "birth_date": reg.child.birth_date.isoformat(),
            "sex": "male" if reg.child.sex == "M" else "female",
        },
        "guardian": body["guardian"],
        "facts": body["facts"],
        "documents": [c["documents"] for c in body["claims"]],
    }


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
