"""Load test of the admissions service: concurrent registrations vs. a trivial endpoint.

Starts ``paiwei serve`` (uvicorn, several workers) on a fresh PostgreSQL database on loopback,
creates a campaign with schools through the API, signs up synthetic families, then measures in
the same run:
  1. GET /ping (no database) -- closed loop, C concurrent clients, N requests;
  2. POST /campaigns/{id}/applications -- closed loop, C clients, N registrations (each one an
     encrypted insert, a blind-index uniqueness check and a log append in one transaction);
  3. registrations open-loop at half the rate measured in 2, for p99 latency at that load.
Prints throughput and p50/p99 per phase and the ratio registrations/ping. Bounded: every loop
has a fixed request count. The load generator shares the machine's cores with the server.

    python benchmarks/api_load.py [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
        [--workers 2] [--concurrency 32] [--requests 2000] [--families 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json as _json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from stdnum.cn import ric

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def id_numbers(n: int) -> list[str]:
    out = []
    day0 = datetime(2019, 9, 1)
    for i in range(n):
        birth = (day0 + timedelta(days=i % 360)).strftime("%Y%m%d")
        body = f"320213{birth}{(i // 360) % 1000:03d}"
        out.append(body + ric.calc_check_digit(body + "0"))
    return out


async def admin_sql(url: str, sql: str) -> None:
    from admissions.db.engine import make_engine

    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


class RawConn(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive client connection (an asyncio protocol): it writes
    pre-built request bytes and parses just the status line and Content-Length of each answer.
    The load generator shares the machine's cores with the server, so it must cost little
    per request (httpx cost ~1 ms of CPU per request, a stream-based client with a readline
    per header line ~0.1 ms)."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.buf = b""
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> RawConn:
        transport, conn = await asyncio.get_running_loop().create_connection(cls, "127.0.0.1", port)
        conn.transport = transport
        return conn

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in self.buf[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if len(self.buf) < end + 4 + length:
            return
        status = int(self.buf[9:12])
        self.buf = self.buf[end + 4 + length :]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    async def request(self, payload: bytes) -> int:
        """Send one pre-built request and wait for its response's status."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def build_request(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> bytes:
    """The exact bytes of one HTTP/1.1 request (built before the timed loops)."""
    data = b"" if body is None else _json.dumps(body, ensure_ascii=False).encode()
    head = [f"{method} {url} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(data)}"]
    if body is not None:
        head.append("Content-Type: application/json")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def cpu_seconds(server_pgid: int, db_name: str) -> tuple[float, float]:
    """CPU time used so far by the service's processes (its session) and by the PostgreSQL
    backends connected to the benchmark database (Linux /proc; (0, 0) elsewhere). Per-request
    CPU is a steadier figure than throughput on a machine other jobs share."""
    hz = os.sysconf("SC_CLK_TCK")
    app = pg = 0
    try:
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return 0.0, 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rpartition(")")[2].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if int(rest[3]) == server_pgid:  # field 6: session id (the server has its own session)
            app += int(rest[11]) + int(rest[12])
        elif cmd.startswith(b"postgres: ") and db_name.encode() in cmd:
            pg += int(rest[11]) + int(rest[12])
    return app / hz, pg / hz


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))] * 1000


async def closed_loop(
    port: int, payloads: list[bytes], conc: int
) -> tuple[float, list[float], int]:
    """``conc`` clients, each on its own keep-alive connection, send the ``payloads`` (one
    request each) as fast as their answers come back."""
    lat: list[float] = []
    errors = 0
    todo = iter(payloads)

    async def worker() -> None:
        nonlocal errors
        conn = await RawConn.open(port)
        try:
            for payload in todo:
                t = time.perf_counter()
                status = await conn.request(payload)
                lat.append(time.perf_counter() - t)
                if status >= 400:
                    errors += 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return len(payloads) / (time.perf_counter() - t0), lat, errors


async def open_loop(
    port: int, payloads: list[bytes], rate: float
) -> tuple[float, list[float], int]:
    """Requests started on a fixed schedule (``rate`` per second), each on a free connection
    from a pool that grows as needed; latency is measured from the scheduled start, so a
    request delayed behind a slow one counts its wait (no coordinated omission)."""
    lat: list[float] = []
    errors = 0
    idle: list[RawConn] = []

    async def one(payload: bytes, scheduled: float) -> None:
        nonlocal errors
        conn = idle.pop() if idle else await RawConn.open(port)
        status = await conn.request(payload)
        lat.append(time.perf_counter() - scheduled)
        idle.append(conn)
        if status >= 400:
            errors += 1

    tasks = []
    t0 = time.perf_counter()
    for i, payload in enumerate(payloads):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload, scheduled)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return len(payloads) / (time.perf_counter() - t0), lat, errors


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def event_loop_runner() -> asyncio.Runner:
    """The measured phases run on a fresh loop (uvloop when installed: a cheaper client)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def server_workers(server_pgid: int) -> list[int]:
    """The uvicorn worker processes (children in the server's session, not the supervisor)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == server_pgid:
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rpartition(")")[2].split()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if int(rest[3]) == server_pgid and b"multiprocessing" in cmd:
            out.append(int(d))
    return out


def start_profiles(server_pgid: int, out_dir: str, seconds: float) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` of every worker for ``seconds`` (diagnostic, ``--profile DIR``)."""
    os.makedirs(out_dir, exist_ok=True)
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [pyspy, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "500", "--gil",
             "-f", "raw", "-o", os.path.join(out_dir, f"worker-{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in server_workers(server_pgid)
    ]  # fmt: skip


def wait_ready(base: str) -> None:
    for _ in range(100):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not start")


async def setup_world(base: str, families: int) -> tuple[str, list[dict[str, str]]]:
    """A campaign (5 private schools, 1 public), opened; ``families`` parents with tokens."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        r = await c.post(
            "/auth/login", json={"username": "admin", "password": "benchmark password"}
        )
        admin = {"Authorization": "Bearer " + r.json()["access_token"]}
        now = datetime.now(UTC)
        camp = {
            "name": "bench",
            "year": 2026,
            "region": "bench",
            "stage": "primary",
            "open_at": (now - timedelta(hours=1)).isoformat(),
            "close_at": (now + timedelta(days=1)).isoformat(),
            "review_deadline": (now + timedelta(days=2)).isoformat(),
        }
        cid = (await c.post("/campaigns", json=camp, headers=admin)).json()["id"]
        schools: list[dict[str, Any]] = [
            {
                "code": f"P{i}",
                "name": f"民办{i}",
                "district": "d",
                "kind": "private",
                "plan": 100,
                "pools": [{"code": "day", "name": "走读", "seats": 100}],
            }
            for i in range(5)
        ]
        schools.append(
            {
                "code": "PUB",
                "name": "公办",
                "district": "d",
                "kind": "public",
                "plan": 1000,
                "catchments": ["c1"],
            }
        )
        for s in schools:
            r = await c.post(f"/campaigns/{cid}/schools", json=s, headers=admin)
            assert r.status_code == 201, r.text
        r = await c.post(f"/campaigns/{cid}/phase", json={"to": "open"}, headers=admin)
        assert r.status_code == 200, r.text
        tokens = []
        for k in range(families):
            u = {"username": f"family{k}", "password": "family password"}
            await c.post("/accounts/signup", json=u)
            token = (await c.post("/auth/login", json=u)).json()["access_token"]
            tokens.append({"Authorization": "Bearer " + token})
        return cid, tokens


def registration(cid: str, id_number: str, k: int, token: dict[str, str]) -> bytes:
    body = {
        "child": {"name": "李华", "id_number": id_number},
        "guardian": {"name": "李强", "phone": "13900000000", "relation": "mother"},
        "district": "d",
        "facts": {"hukou_district": "d", "catchment": "c1", "address": "某路1号"},
        "choices": {
            "public": "PUB",
            "private": [
                {"school": f"P{k % 5}", "pool": "day"},
                {"school": f"P{(k + 1) % 5}", "pool": "day"},
            ],
        },
    }
    return build_request("POST", f"/campaigns/{cid}/applications", body, token)


async def measure(
    args: argparse.Namespace, port: int, server_pgid: int, db_name: str, cid: str,
    tokens: list[dict[str, str]],
) -> None:  # fmt: skip
    n, conc = args.requests, args.concurrency
    ids = id_numbers(100 + n + n // 2)
    regs = [registration(cid, ids[k], k, tokens[k % len(tokens)]) for k in range(len(ids))]
    warm_regs, closed_regs, open_regs = regs[:100], regs[100 : 100 + n], regs[100 + n :]
    ping = build_request("GET", "/ping")
    # warm-up (connections, caches), not measured
    await closed_loop(port, [ping] * 200, conc)
    await closed_loop(port, warm_regs, conc)
    rows = []
    cpu: list[tuple[float, float, float]] = []

    async def phase(payloads: list[bytes], run: Any) -> tuple[float, list[float], int]:
        a0, p0 = cpu_seconds(server_pgid, db_name)
        m0 = own_cpu()
        result: tuple[float, list[float], int] = await run
        a1, p1 = cpu_seconds(server_pgid, db_name)
        k = len(payloads)
        cpu.append(((a1 - a0) / k, (p1 - p0) / k, (own_cpu() - m0) / k))
        return result

    tp, lat, err = await phase([ping] * n, closed_loop(port, [ping] * n, conc))
    rows.append(("GET /ping (closed loop)", tp, lat, err))
    ping_tp = tp
    profiles = start_profiles(server_pgid, args.profile, n / 300) if args.profile else []
    tp, lat, err = await phase(closed_regs, closed_loop(port, closed_regs, conc))
    for prof in profiles:
        prof.wait()
    rows.append(("POST registration (closed loop)", tp, lat, err))
    reg_tp = tp
    half = reg_tp / 2
    tp, lat, err = await phase(open_regs, open_loop(port, open_regs, half))
    rows.append((f"POST registration (open loop @ {half:.0f}/s)", tp, lat, err))
    print(
        f"\npaiwei admissions load test: {args.workers} uvicorn workers, PostgreSQL, "
        f"{conc} concurrent clients, {n} requests per closed loop\n"
    )
    print(f"{'phase':48} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, tp, lat, err in rows:
        print(f"{label:48} {tp:8.0f} {pct(lat, 50):8.1f} {pct(lat, 99):8.1f} {err:7d}")
    for label, (a, b, m) in zip(("ping", "registration", "registration (open)"), cpu, strict=True):
        print(
            f"CPU per {label}: service {a * 1000:.2f} ms, PostgreSQL backends {b * 1000:.2f} ms, "
            f"load generator {m * 1000:.2f} ms"
        )
    print(f"load average after the run: {os.getloadavg()[0]:.1f} (1 min)")
    print(f"\nregistrations / ping throughput: {reg_tp / ping_tp:.1%}  (target >= 15%)")
    print("targets: >= 1000 registrations/s; p99 <= 100 ms at half that rate")


def run(args: argparse.Namespace) -> None:
    name = "paiwei_bench_" + secrets.token_hex(4)
    db_url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin_sql(args.pg, f'CREATE DATABASE "{name}"'))
    if args.async_commit:
        # Diagnostic only: shows the CPU-bound ceiling without the per-commit WAL flush.
        # Not a production setting (see docs/service.md).
        asyncio.run(admin_sql(args.pg, f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    from audit.note import generate_key

    skey, _ = generate_key("bench.paiwei/log")
    tmp = tempfile.mkdtemp(prefix="paiwei-bench-")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PAIWEI_VAR_DIR": tmp,
        "PAIWEI_DATABASE_URL": db_url,
        "PAIWEI_DATA_KEYS": "k1:" + secrets.token_hex(32),
        "PAIWEI_BLIND_INDEX_KEY": secrets.token_hex(32),
        "PAIWEI_JWT_SECRET": secrets.token_hex(32),
        "PAIWEI_LOG_SIGNING_KEY": skey,
        "PAIWEI_LOG_ORIGIN": "bench.paiwei/log",
        "PAIWEI_DB_POOL_SIZE": str(args.pool),
        "PAIWEI_NEW_PASSWORD": "benchmark password",
    }
    py = sys.executable
    subprocess.run(
        [py, "-m", "admissions", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [py, "-m", "admissions", "create-officer", "admin", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [py, "-m", "admissions", "serve", "--no-upgrade", "--port", str(port),
         "--workers", str(args.workers)],
        env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(base)
        cid, tokens = asyncio.run(setup_world(base, args.families))
        with event_loop_runner() as runner:
            runner.run(measure(args, port, server.pid, name, cid, tokens))
        if args.check_log:
            asyncio.run(check_log(db_url))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        asyncio.run(admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def check_log(db_url: str) -> None:
    """After the run: the log's seqs are 0..n-1 without a gap, the stored right edge gives the
    root recomputed from every leaf, and every registration has its entry."""
    from admissions.db.engine import make_engine
    from audit.merkle import CompactRange, leaf_hash, root

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT seq, entry, leaf_hash FROM log_entries ORDER BY seq")
                )
            ).all()
            size, hashes = (await conn.execute(text("SELECT size, hashes FROM log_state"))).one()
            apps, linked = (
                await conn.execute(
                    text(
                        "SELECT count(*), count(e.seq) FROM applications a "
                        "LEFT JOIN log_entries e ON e.queue_id = a.log_queue_id"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    seqs = [seq for seq, _, _ in rows]
    leaves = [h for _, _, h in rows]
    hashed = all(leaf_hash(bytes(e)) == bytes(h) for _, e, h in rows)
    edge = CompactRange(size, [hashes[i : i + 32] for i in range(0, len(hashes), 32)])
    ok = (
        hashed
        and seqs == list(range(len(seqs)))
        and size == len(seqs)
        and edge.root() == root(leaves)
    )
    print(f"log check: {len(seqs)} entries, gapless and root consistent: {ok}; "
          f"{linked}/{apps} applications linked to their entry")  # fmt: skip
    if not ok or linked != apps:
        raise SystemExit("log check failed")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--pg",
        default=os.environ.get(
            "PAIWEI_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--families", type=int, default=20)
    p.add_argument("--pool", type=int, default=10)
    p.add_argument("--async-commit", action="store_true", help="diagnostic: synchronous_commit=off")
    p.add_argument("--profile", metavar="DIR", help="py-spy record the workers (registrations)")
    p.add_argument(
        "--no-check-log", dest="check_log", action="store_false",
        help="skip the log integrity check after the run",
    )  # fmt: skip
    run(p.parse_args())


if __name__ == "__main__":
    main()
