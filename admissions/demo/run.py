"""The demo driver: one whole campaign of the seeds demo city, every action over HTTP.

Theory of operation:

1. ``seeds`` builds the city and the families (deterministic from ``--seed``).
2. A fresh SQLite file is migrated and the first admin account is created directly, as an
   operator would with ``paiwei create-officer --role admin`` (the only step not over HTTP).
3. The service starts as a subprocess (uvicorn on 127.0.0.1, a free port) with fresh keys and
   the demo clock (``admissions.demo.server.FileClock``); the driver moves that clock through
   the campaign's calendar, so phase rules and deadlines are enforced exactly as in production.
4. Every later step is an httpx request as the user who would make it: the admin creates staff
   accounts; the city officer creates the campaign and its schools and opens it; each family
   signs up, logs in and registers its children (twins bundled), bounded concurrency, the clock
   following the families' registration times; district officers list and review their
   applications (a claim is rejected exactly when the seeds mark it not ``genuine``); the city
   officer closes, marks reviewed and freezes.
5. The ceremony and publication steps follow (witnesses commit and reveal with the
   ``paiwei-audit commit/reveal`` functions, beacon evidence, draw, publish, bundle download,
   ``paiwei-audit verify``). A step whose API is not offered by this build of the service is
   reported as "not run" with the reason, the demo stops there and exits 1: it never pretends.

Argon2 is tuned down for the demo (thousands of parents sign up and log in within minutes on a
laptop); the output says so. Nothing else differs from a production service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
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

from admissions.demo import DEFAULT_DB
from admissions.demo.mapping import (
    CST,
    application_body,
    campaign_body,
    review_body,
    school_body,
)
from admissions.demo.server import write_clock
from seeds.city import City, demo_city
from seeds.families import Child, Family, families

LOG_ORIGIN = "paiwei.demo/wuxi"
PASSWORD_LEN = 18
# Demo-only password hashing cost (argon2id, RFC 9106 allows tuning): ~0.6 ms instead of ~200 ms.
ARGON2_TIME_COST = "1"
ARGON2_MEMORY_KIB = "1024"


@dataclass(frozen=True)
class Options:
    families: int
    seed: int
    db: Path | None = None
    keep_serving: bool = False
    concurrency: int = 8
    port: int = 0
    console: Console | None = None


class DemoError(Exception):
    """A step failed: the message says which request and what the service answered."""


class NotAvailable(Exception):
    """This build of the service does not offer what the step needs (reported, never faked)."""


@dataclass
class StepRecord:
    title: str
    status: str  # "ok" | "failed" | "not run"
    detail: str
    seconds: float


@dataclass
class Registered:
    number: str
    family: Family
    child: Child
    receipt: dict[str, Any]


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
    facts: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    def __init__(self, base_url: str, concurrency: int) -> None:
        limits = httpx.Limits(
            max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
        )
        self.http = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120.0)
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


class Demo:
    def __init__(self, opts: Options, console: Console) -> None:
        self.o = opts
        self.console = console
        db = opts.db if opts.db is not None else DEFAULT_DB
        self.db = db.resolve()
        self.dir = self.db.parent
        stem = self.db.stem
        self.clock_file = self.dir / f"{stem}.clock"
        self.server_log = self.dir / f"{stem}.server.log"
        self.bundle_dir = self.dir / f"{stem}-bundle"
        self.keys_dir = self.dir / f"{stem}-witnesses"
        self.now = datetime(2000, 1, 1, tzinfo=UTC)
        self.city: City
        self.families: list[Family] = []
        self.s = State()
        self.env: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.api: Api | None = None
        self.base_url = ""
        self.records: list[StepRecord] = []

    # ---------------------------------------------------------------- plumbing

    def set_clock(self, when: datetime) -> None:
        """Move the demo clock forward (never back) and tell the service."""
        if when > self.now:
            self.now = when
            write_clock(self.clock_file, when)

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
        """Run ``work`` on every item with at most ``concurrency`` in flight, in list order of
        start (``before`` runs as an item is taken, e.g. to move the clock), with a progress bar."""
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

            workers = [asyncio.create_task(worker()) for _ in range(self.o.concurrency)]
            try:
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()

    def require(self, *operations: str, what: str) -> None:
        missing = [op for op in operations if op not in self.s.operations]
        if missing:
            raise NotAvailable(
                f"{what}: this build of the service has no {', '.join(missing)} "
                "operation (see /schema)"
            )

    # ---------------------------------------------------------------- steps

    async def step_city(self) -> str:
        self.city = demo_city(
            seed=self.o.seed, campaign_year=2026, expected_families=self.o.families
        )
        self.families = families(self.city, n=self.o.families, seed=self.o.seed)
        children = sum(len(f.children) for f in self.families)
        pub = self.city.public_schools()
        prv = self.city.private_schools()
        self.s.facts.update(children=children)
        return (
            f"{self.city.name}: {len(self.city.districts)} districts, {len(pub)} public schools "
            f"({sum(s.plan for s in pub):,} seats), {len(prv)} private "
            f"({sum(s.plan for s in prv):,} seats); {len(self.families):,} families, "
            f"{children:,} children"
        )

    async def step_database(self) -> str:
        from admissions.accounts.service import create_account
        from admissions.context import make_context
        from admissions.db.engine import make_engine, make_sessionmaker
        from admissions.db.migrate import upgrade
        from admissions.settings import Settings
        from audit.note import generate_key

        self.dir.mkdir(parents=True, exist_ok=True)
        for p in (
            self.db,
            self.db.with_name(self.db.name + "-wal"),
            self.db.with_name(self.db.name + "-shm"),
            self.clock_file,
            self.server_log,
        ):
            p.unlink(missing_ok=True)
        for d in (self.bundle_dir, self.keys_dir):
            if d.exists():
                shutil.rmtree(d)
        url = f"sqlite+aiosqlite:///{self.db}"
        skey, vkey = generate_key(LOG_ORIGIN)
        self.s.facts["log_vkey"] = vkey
        self.env = {
            "PAIWEI_DATABASE_URL": url,
            "PAIWEI_DATA_KEYS": "demo1:" + secrets.token_hex(32),
            "PAIWEI_BLIND_INDEX_KEY": secrets.token_hex(32),
            "PAIWEI_JWT_SECRET": secrets.token_hex(32),
            "PAIWEI_LOG_ORIGIN": LOG_ORIGIN,
            "PAIWEI_LOG_SIGNING_KEY": skey,
            "PAIWEI_ARGON2_TIME_COST": ARGON2_TIME_COST,
            "PAIWEI_ARGON2_MEMORY_KIB": ARGON2_MEMORY_KIB,
            "PAIWEI_DEMO_CLOCK_FILE": str(self.clock_file),
        }
        settings = Settings.from_env(self.env)
        # The calendar starts a week before registration opens.
        start = datetime.combine(
            self.city.registration_opens - timedelta(days=7), datetime.min.time(), CST
        )
        self.set_clock(start)
        engine = make_engine(url)
        try:
            await upgrade(engine)
            ctx = make_context(settings, lambda: self.now)
            self.s.facts["admin_password"] = secrets.token_urlsafe(PASSWORD_LEN)
            async with make_sessionmaker(engine)() as session:
                await create_account(session, ctx, "admin", self.s.facts["admin_password"], "admin")
        finally:
            await engine.dispose()
        return (
            f"{self.db} migrated; admin account created (as `paiwei create-officer --role admin`)"
        )

    async def step_server(self) -> str:
        port = self.o.port or _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, **self.env}
        # The service must import this very copy of paiwei (also when run from a checkout).
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "admissions.demo.server:app_factory",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        log = open(self.server_log, "wb")  # noqa: SIM115 (the child keeps it open)
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.api = Api(self.base_url, self.o.concurrency)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise DemoError(
                    f"the service exited with code {self.proc.returncode}; see {self.server_log}"
                )
            try:
                r = await self.api.http.get("/healthz", timeout=2)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DemoError(f"the service did not answer within 60 s; see {self.server_log}")
            await asyncio.sleep(0.2)
        schema = (await self.api.call("GET", "/schema/openapi.json")).json()
        for item in schema.get("paths", {}).values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    self.s.operations.add(op["operationId"])
        return (
            f"uvicorn on {self.base_url} (pid {self.proc.pid}), {len(self.s.operations)} operations"
        )

    async def step_staff(self) -> str:
        api = self._api()
        r = await api.call(
            "POST",
            "/auth/login",
            json={"username": "admin", "password": self.s.facts["admin_password"]},
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
        return (
            f"admin created 1 city officer and {len(self.city.districts)} district officers "
            "(POST /accounts), each logged in (POST /auth/login)"
        )

    async def step_campaign(self) -> str:
        api = self._api()
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
        api = self._api()
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
            f"children ({twins} sets of multiples, {bundles} bundled applications)"
        )

    async def step_review(self) -> str:
        api = self._api()
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
        api = self._api()
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
            f"frozen: {len(self.s.rosters)} lottery rosters ({in_lottery:,} applicants), "
            f"{self.s.placed_without_lottery:,} placed without a lottery (reserved seats, "
            "undersubscribed pools); roster digests logged in roster.freeze"
        )

    async def step_ceremony(self) -> str:
        self.require("openDraw", what="the lottery ceremony")
        raise NotAvailable("the lottery ceremony is not implemented in this build")

    async def step_publish(self) -> str:
        self.require("publishCampaign", what="publication")
        raise NotAvailable("publication is not implemented in this build")

    async def step_verify(self) -> str:
        raise NotAvailable("there is no published bundle to verify")

    # ---------------------------------------------------------------- running

    def _api(self) -> Api:
        if self.api is None:
            raise DemoError("the service is not running")
        return self.api

    def steps(self) -> list[tuple[str, Callable[[], Awaitable[str]]]]:
        return [
            ("demo city and families (seeds)", self.step_city),
            ("fresh SQLite database", self.step_database),
            ("start the service", self.step_server),
            ("staff accounts", self.step_staff),
            ("campaign and schools", self.step_campaign),
            ("registration", self.step_register),
            ("review", self.step_review),
            ("freeze the rosters", self.step_freeze),
            ("ceremony: witnesses, beacon, draw", self.step_ceremony),
            ("publication and bundle", self.step_publish),
            ("paiwei-audit verify", self.step_verify),
        ]

    async def run(self) -> int:
        steps = self.steps()
        t_start = time.monotonic()
        code = 0
        try:
            for i, (title, fn) in enumerate(steps):
                t0 = time.monotonic()
                cpu0 = (time.process_time(), self._server_cpu())
                self.console.rule(f"[bold]{i + 1}. {title}")
                try:
                    detail = await fn()
                except NotAvailable as exc:
                    self._record(title, "not run", str(exc), t0)
                    for later, _ in steps[i + 1 :]:
                        self.records.append(StepRecord(later, "not run", "an earlier step", 0.0))
                    code = 1
                    break
                except DemoError as exc:
                    self._record(title, "failed", str(exc), t0)
                    for later, _ in steps[i + 1 :]:
                        self.records.append(StepRecord(later, "not run", "an earlier step", 0.0))
                    code = 1
                    break
                self._record(title, "ok", detail, t0)
                if os.environ.get("PAIWEI_DEMO_TIMING"):
                    self.console.print(
                        f"[dim]cpu: driver {time.process_time() - cpu0[0]:.1f} s, "
                        f"service {self._server_cpu() - cpu0[1]:.1f} s[/]"
                    )
            self.summary(time.monotonic() - t_start)
            if self.o.keep_serving and self.proc is not None and self.proc.poll() is None:
                self.console.print(
                    f"\nThe service keeps running at [bold]{self.base_url}[/] "
                    f"(OpenAPI: {self.base_url}/schema). Press Ctrl-C to stop it."
                )
                with contextlib.suppress(asyncio.CancelledError):
                    while self.proc.poll() is None:
                        await asyncio.sleep(0.5)
        finally:
            if self.api is not None:
                if os.environ.get("PAIWEI_DEMO_TIMING"):
                    for k, (n, tot) in sorted(self.api.timing.items()):
                        self.console.print(f"{k}: {n} x {tot / n * 1000:.1f} ms")
                await self.api.close()
            self.stop_server()
        return code

    def _record(self, title: str, status: str, detail: str, t0: float) -> None:
        rec = StepRecord(title, status, detail, time.monotonic() - t0)
        self.records.append(rec)
        mark = {
            "ok": "[green]✓[/]",
            "failed": "[red]✗ failed:[/]",
            "not run": "[yellow]– not run:[/]",
        }
        self.console.print(f"{mark[status]} {escape(detail)}  [dim]({rec.seconds:.1f} s)[/]")

    def _server_cpu(self) -> float:
        """CPU seconds (user + system) of the service process so far (Linux /proc; else 0)."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop_server(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # ---------------------------------------------------------------- summary

    def summary(self, seconds: float) -> None:
        c = self.console
        c.rule("[bold]summary")
        t = Table(title="steps", show_lines=False)
        t.add_column("step")
        t.add_column("result")
        t.add_column("time", justify="right")
        style = {"ok": "green", "failed": "red", "not run": "yellow"}
        for r in self.records:
            t.add_row(r.title, f"[{style[r.status]}]{r.status}[/]", f"{r.seconds:.1f} s")
        c.print(t)
        if self.families and self.s.apps:
            self._campaign_table()
        not_run = [r for r in self.records if r.status != "ok"]
        c.print(
            f"Total {seconds:.1f} s; {self.api.requests if self.api else 0:,} HTTP requests "
            f"to the service."
        )
        c.print(
            "[dim]Demo settings: the service ran on a demo clock (the campaign's weeks pass in "
            "minutes) and with a cheap argon2id cost so thousands of parents can sign up "
            "quickly; everything else is the production code path.[/]"
        )
        if not_run:
            first = not_run[0]
            c.print(
                f"[bold yellow]INCOMPLETE:[/] the demo stopped at “{first.title}”: "
                f"{escape(first.detail)}"
            )
            later = [r.title for r in not_run if r.status == "not run"]
            if later:
                c.print("Not run: " + ", ".join(later) + ".")
        self._where_next()

    def _campaign_table(self) -> None:
        city = self.city
        seats_pub = sum(s.plan for s in city.public_schools())
        seats_prv = sum(s.plan for s in city.private_schools())
        first_choice: Counter[str] = Counter()
        for reg in self.s.apps.values():
            prv = sorted(
                (ch for ch in reg.family.choices if ch.kind == "private"), key=lambda ch: ch.rank
            )
            if prv and prv[0].pool_id:
                first_choice[prv[0].pool_id] += 1
        t = Table(title="campaign")
        t.add_column("")
        t.add_column("", justify="right")
        t.add_row("applications (children)", f"{len(self.s.apps):,}")
        t.add_row("public seats / private seats", f"{seats_pub:,} / {seats_prv:,}")
        private = sum(
            1 for r in self.s.apps.values() if any(ch.kind == "private" for ch in r.family.choices)
        )
        t.add_row("children applying to a private school", f"{private:,}")
        if self.s.rosters:
            t.add_row("lottery rosters", f"{len(self.s.rosters)}")
            t.add_row("placed without a lottery", f"{self.s.placed_without_lottery:,}")
        self.console.print(t)
        pools = {p.id: (s, p) for s in city.private_schools() for p in s.pools}
        o = Table(title="most oversubscribed private pools (first-choice applicants per seat)")
        o.add_column("school")
        o.add_column("pool")
        o.add_column("seats", justify="right")
        o.add_column("applicants", justify="right")
        o.add_column("per seat", justify="right")
        ranked = sorted(pools.items(), key=lambda kv: -first_choice[kv[0]] / max(kv[1][1].seats, 1))
        for pid, (school, pool) in ranked[:6]:
            n = first_choice[pid]
            o.add_row(
                school.name, pool.name, str(pool.seats), str(n), f"{n / max(pool.seats, 1):.1f}"
            )
        self.console.print(o)

    def _where_next(self) -> None:
        c = self.console
        c.print("\n[bold]Where to look next[/]")
        c.print(f"  database:      {self.db}")
        c.print(f"  service log:   {self.server_log}")
        if self.s.campaign:
            url = self.base_url or "http://127.0.0.1:<port>"
            c.print(f"  campaign:      {url}/campaigns/{self.s.campaign}")
            c.print(f"  rosters:       {url}/campaigns/{self.s.campaign}/rosters")
            c.print(f"  the log:       {url}/log/checkpoint and {url}/log/entries")
            c.print(f"  API (OpenAPI): {url}/schema")
        if not self.o.keep_serving:
            c.print("  (run with --keep-serving to browse these while the service runs)")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(opts: Options) -> int:
    console = opts.console or Console(highlight=False)
    if opts.db is not None and opts.db.exists():
        console.print(
            f"paiwei demo: --db: {opts.db} already exists; the demo needs a fresh file "
            "(delete it or choose another path)",
            style="red",
        )
        return 2
    demo = Demo(opts, console)
    with _sigterm_as_interrupt():
        try:
            return asyncio.run(demo.run())
        except KeyboardInterrupt:
            demo.stop_server()
            console.print("interrupted; the service was stopped")
            return 1
