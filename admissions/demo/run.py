"""``paiwei demo``: the process around the campaign (database, service, output).

Theory of operation:

1. ``seeds`` builds the city and the families (deterministic from ``--seed``).
2. A fresh SQLite file is migrated and the first admin account is created directly, as an
   operator would with ``paiwei create-officer --role admin`` (the only step not over HTTP).
3. The service starts as a subprocess (uvicorn on 127.0.0.1, a free port) with fresh keys and
   the demo clock (``admissions.demo.server.FileClock``); the driver moves that clock through
   the campaign's calendar, so phase rules and deadlines are enforced exactly as in production.
4. ``admissions.demo.flow.Flow`` then runs the campaign over HTTP (httpx), step by step, with
   progress bars; a step the service does not offer is reported as "not run" and the demo stops
   there with exit code 1 (it never pretends).
5. A closing summary: the steps and their times, seats, applicants, oversubscription, results,
   the verification verdict, and where to look next (``--keep-serving`` leaves the service up).

Argon2 is tuned down for the demo (thousands of parents sign up and log in within minutes on a
laptop) and the clock is the demo's; the output says so. Nothing else differs from production.
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from admissions.demo import DEFAULT_DB
from admissions.demo.flow import PASSWORD_LEN, Api, DemoError, Flow, NotAvailable
from admissions.demo.mapping import CST
from admissions.demo.server import write_clock
from seeds.city import City, demo_city
from seeds.families import Family, families

LOG_ORIGIN = "paiwei.demo/wuxi"
# Demo-only password hashing cost (argon2id; RFC 9106 parameters are tunable): ~0.6 ms per hash
# instead of ~200 ms, so thousands of parents can sign up and log in within the demo's minutes.
ARGON2_TIME_COST = "1"
ARGON2_MEMORY_KIB = "1024"


@dataclass(frozen=True)
class Options:
    families: int
    seed: int
    db: Path | None = None
    keep_serving: bool = False
    concurrency: int = 16
    port: int = 0
    console: Console | None = None


@dataclass
class StepRecord:
    title: str
    status: str  # "ok" | "failed" | "not run"
    detail: str
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        self.workdir = self.dir / f"{stem}-files"
        self.now = datetime(2000, 1, 1, tzinfo=UTC)
        self.city: City | None = None
        self.families: list[Family] = []
        self.env: dict[str, str] = {}
        self.admin_password = secrets.token_urlsafe(PASSWORD_LEN)
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: httpx.AsyncClient | None = None
        self.flow: Flow | None = None
        self.base_url = ""
        self.records: list[StepRecord] = []

    def set_clock(self, when: datetime) -> None:
        """Move the demo clock forward (never back) and tell the service."""
        if when > self.now:
            self.now = when
            write_clock(self.clock_file, when)

    # ---------------------------------------------------------------- steps before HTTP

    async def step_city(self) -> str:
        self.city = demo_city(
            seed=self.o.seed, campaign_year=2026, expected_families=self.o.families
        )
        self.families = families(self.city, n=self.o.families, seed=self.o.seed)
        children = sum(len(f.children) for f in self.families)
        pub = self.city.public_schools()
        prv = self.city.private_schools()
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

        assert self.city is not None
        self.dir.mkdir(parents=True, exist_ok=True)
        for p in (
            self.db,
            self.db.with_name(self.db.name + "-wal"),
            self.db.with_name(self.db.name + "-shm"),
            self.clock_file,
            self.server_log,
        ):
            p.unlink(missing_ok=True)
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        url = f"sqlite+aiosqlite:///{self.db}"
        skey, vkey = generate_key(LOG_ORIGIN)
        (self.workdir / "log.vkey").write_text(vkey + "\n", "utf-8")
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
        # The demo calendar starts a week before registration opens.
        start = datetime.combine(
            self.city.registration_opens - timedelta(days=7), datetime.min.time(), CST
        )
        self.set_clock(start)
        engine = make_engine(url)
        try:
            await upgrade(engine)
            ctx = make_context(settings, lambda: self.now)
            async with make_sessionmaker(engine)() as session:
                await create_account(session, ctx, "admin", self.admin_password, "admin")
        finally:
            await engine.dispose()
        return (
            f"{self.db} migrated; admin account created (as `paiwei create-officer --role admin`)"
        )

    async def step_server(self) -> str:
        assert self.city is not None
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
        with open(self.server_log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        c = self.o.concurrency
        limits = httpx.Limits(max_connections=c + 4, max_keepalive_connections=c + 4)
        self.http = httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=300.0)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise DemoError(
                    f"the service exited with code {self.proc.returncode}; see {self.server_log}"
                )
            try:
                r = await self.http.get("/healthz", timeout=2)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DemoError(f"the service did not answer within 60 s; see {self.server_log}")
            await asyncio.sleep(0.2)
        self.flow = Flow(
            Api(self.http),
            self.city,
            self.families,
            admin_password=self.admin_password,
            set_clock=self.set_clock,
            workdir=self.workdir,
            console=self.console,
            concurrency=self.o.concurrency,
            log_vkey=(self.workdir / "log.vkey").read_text("utf-8").strip(),
        )
        n = await self.flow.load_operations()
        return f"uvicorn on {self.base_url} (pid {self.proc.pid}), {n} API operations"

    # ---------------------------------------------------------------- running

    def _flow(self) -> Flow:
        if self.flow is None:
            raise DemoError("the service is not running")
        return self.flow

    def steps(self) -> list[tuple[str, Callable[[], Awaitable[str]]]]:
        def later(i: int) -> Callable[[], Awaitable[str]]:
            async def go() -> str:
                return await self._flow().steps()[i][1]()

            return go

        titles = [title for title, _ in Flow.step_titles()]
        return [
            ("demo city and families (seeds)", self.step_city),
            ("fresh SQLite database", self.step_database),
            ("start the service", self.step_server),
            *[(t, later(i)) for i, t in enumerate(titles)],
        ]

    async def run(self) -> int:
        steps = self.steps()
        t_start = time.monotonic()
        code = 0
        timing = bool(os.environ.get("PAIWEI_DEMO_TIMING"))
        try:
            for i, (title, fn) in enumerate(steps):
                t0 = time.monotonic()
                cpu0 = (time.process_time(), self._server_cpu())
                self.console.rule(f"[bold]{i + 1}. {title}")
                try:
                    detail = await fn()
                except (NotAvailable, DemoError) as exc:
                    status = "not run" if isinstance(exc, NotAvailable) else "failed"
                    detail = str(exc)
                    if str(self.server_log) in detail:
                        pass
                    elif self.proc is not None and self.proc.poll() is not None:
                        detail += (
                            f" (the service exited with code {self.proc.returncode}; "
                            f"see {self.server_log})"
                        )
                    elif status == "failed":
                        detail += f" (service log: {self.server_log})"
                    self._record(title, status, detail, t0)
                    for t, _ in steps[i + 1 :]:
                        self.records.append(StepRecord(t, "not run", "an earlier step", 0.0))
                    code = 1
                    break
                self._record(title, "ok", detail, t0)
                if timing:
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
            if self.flow is not None and timing:
                for k, (n, tot) in sorted(self.flow.api.timing.items()):
                    self.console.print(f"[dim]{k}: {n} x {tot / n * 1000:.1f} ms[/]")
            if self.http is not None:
                await self.http.aclose()
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
        except (OSError, IndexError):
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
        t = Table(title="steps")
        t.add_column("step")
        t.add_column("result")
        t.add_column("time", justify="right")
        style = {"ok": "green", "failed": "red", "not run": "yellow"}
        for r in self.records:
            t.add_row(r.title, f"[{style[r.status]}]{r.status}[/]", f"{r.seconds:.1f} s")
        c.print(t)
        if self.flow is not None and self.flow.s.apps:
            self._campaign_tables(self.flow)
        requests = self.flow.api.requests if self.flow else 0
        c.print(f"Total {seconds:.1f} s; {requests:,} HTTP requests to the service.")
        c.print(
            "[dim]Demo settings: the service ran on a demo clock (the campaign's weeks pass in "
            "minutes) and with a cheap argon2id cost so thousands of parents can sign up "
            "quickly; everything else is the production code path.[/]"
        )
        if self.flow is not None:
            for line in self.flow.notes:
                c.print(f"[dim]{escape(line)}[/]")
        not_ok = [r for r in self.records if r.status != "ok"]
        if not_ok:
            first = not_ok[0]
            c.print(
                f"[bold yellow]INCOMPLETE:[/] the demo stopped at “{first.title}”: "
                f"{escape(first.detail)}"
            )
            later = [r.title for r in not_ok[1:]]
            if later:
                c.print("Not run: " + ", ".join(later) + ".")
        else:
            c.print("[bold green]The whole campaign ran and its published bundle verified.[/]")
        self._where_next()

    def _campaign_tables(self, flow: Flow) -> None:
        city = flow.city
        s = flow.s
        seats_pub = sum(x.plan for x in city.public_schools())
        seats_prv = sum(x.plan for x in city.private_schools())
        first_choice: Counter[str] = Counter()
        private = 0
        for reg in s.apps.values():
            prv = sorted(
                (ch for ch in reg.family.choices if ch.kind == "private"), key=lambda ch: ch.rank
            )
            if prv:
                private += 1
                if prv[0].pool_id:
                    first_choice[prv[0].pool_id] += 1
        t = Table(title="campaign", show_header=False)
        t.add_column("")
        t.add_column("", justify="right")
        t.add_row("applications (children)", f"{len(s.apps):,}")
        t.add_row("public seats / private seats", f"{seats_pub:,} / {seats_prv:,}")
        t.add_row("children applying to a private school", f"{private:,}")
        if s.rosters:
            t.add_row("lottery rosters (private round)", f"{len(s.rosters)}")
            t.add_row("placed without a lottery", f"{s.placed_without_lottery:,}")
        for k, v in s.summary.items():
            t.add_row(k, v)
        self.console.print(t)
        pools = {p.id: (x, p) for x in city.private_schools() for p in x.pools}
        o = Table(title="most oversubscribed private pools (first-choice applicants per seat)")
        for col in ("school", "pool", "seats", "applicants", "per seat"):
            o.add_column(col, justify="left" if col in ("school", "pool") else "right")
        ranked = sorted(pools.items(), key=lambda kv: -first_choice[kv[0]] / max(kv[1][1].seats, 1))
        for pid, (school, pool) in ranked[:6]:
            n = first_choice[pid]
            o.add_row(
                school.name, pool.name, str(pool.seats), str(n), f"{n / max(pool.seats, 1):.1f}"
            )
        self.console.print(o)
        for table in flow.tables:
            self.console.print(table)

    def _where_next(self) -> None:
        c = self.console
        c.print("\n[bold]Where to look next[/]")
        c.print(f"  database:      {self.db}")
        c.print(f"  service log:   {self.server_log}")
        c.print(f"  files:         {self.workdir} (witness keys, notes, bundle, receipts)")
        flow = self.flow
        if flow is not None and flow.s.campaign:
            url = self.base_url
            cid = flow.s.campaign
            c.print(f"  campaign:      {url}/campaigns/{cid}")
            c.print(f"  rosters:       {url}/campaigns/{cid}/rosters")
            if "listResults" in flow.s.operations:
                c.print(f"  results:       {url}/campaigns/{cid}/results")
                c.print(f"  fairness:      {url}/campaigns/{cid}/fairness")
                c.print(f"  bundle:        {url}/campaigns/{cid}/bundle")
            c.print(f"  the log:       {url}/log/checkpoint and {url}/log/entries")
            c.print(f"  API (OpenAPI): {url}/schema")
            for line in flow.next_commands:
                c.print(f"  {escape(line)}")
        if not self.o.keep_serving:
            c.print("  (the service has stopped; run with --keep-serving to browse the URLs)")


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
