"""Lottery engine benchmark (issue 2, "Performance").  Not a test: prints a table and ratios.

    python benchmarks/lottery_bench.py [--sizes 10000,100000,1000000] [--peer-timeout 300]

Instances: n applicants with 5 choices each among n/50 schools of 50 seats, Zipf-like school
popularity (weight 1/rank), 10% of applicants with a priority, 2% in twin groups.  The data
generator uses numpy's PRNG (benchmark data only; the draw never does).  Every measurement runs
in a fresh child process so that its peak RSS (ru_maxrss) is its own.

Ratios, all measured in this run:
  (a) ticket stage / bare ``hmac.digest`` loop over the same messages     (target <= 1.5)
      Below 1 since the ticket stage hashes the HMAC key pads once for all messages
      (``lottery.ticket.hmac_sha256_many``, same bytes) instead of once per call.
  (b) ``matching`` HospitalResident solve / our DA on 20k singletons       (target >= 300)
      Both get the same preferences: the peer the school preference lists we derived from the
      tickets, our DA the same school orders; also printed: the peer's create + solve against
      our orders + DA (from tickets), and against all of ``draw()``.
  (c) CLI end to end at 1M / (``json.load`` of the file + the bare loop)   (target <= 1.0)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = "5eed" * 16


def make_instance(
    n: int,
    *,
    twins: float = 0.02,
    mechanism: str = "deferred-acceptance",
    tie_breaking: str = "single",
) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(n)
    n_s = max(n // 50, 5)
    weights = 1.0 / np.arange(1, n_s + 1)
    weights /= weights.sum()
    draws = rng.choice(n_s, size=(n, 12), p=weights)
    schools = [{"id": f"S{i:05d}", "capacity": 50} for i in range(n_s)]
    sids = [s["id"] for s in schools]
    applicants: list[dict[str, Any]] = []
    has_prio = rng.random(n) < 0.10
    prio_val = rng.integers(1, 3, size=n)
    i = 0
    g = 0
    fill = rng.integers(0, n_s, size=(n, 5))
    while i < n:
        row = list(dict.fromkeys(draws[i].tolist()))[:5]
        j = 0
        while len(row) < 5:
            c = int(fill[i, j % 5] + j) % n_s
            if c not in row:
                row.append(c)
            j += 1
        choices = [sids[c] for c in row]
        pair = twins > 0 and i + 1 < n and (i * 7919) % 100 < twins * 100
        for m in range(2 if pair else 1):
            a: dict[str, Any] = {"id": f"A{i + m:07d}", "choices": choices}
            if has_prio[i + m]:
                a["priority"] = {choices[0]: int(prio_val[i + m])}
            if pair:
                a["group"] = f"G{g:06d}"
            applicants.append(a)
        g += pair
        i += 2 if pair else 1
    return {
        "format": "paiwei-instance/1",
        "seed": SEED,
        "mechanism": mechanism,
        "tie_breaking": tie_breaking,
        "group_policy": "all-or-none",
        "schools": schools,
        "applicants": applicants,
    }


def _rss_mb() -> float:
    """Peak RSS of this process image in MB.  VmHWM, not ru_maxrss: on Linux ru_maxrss survives
    exec, so a child would report its (large) parent's RSS at fork time."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Runs exactly ``python -m lottery run PATH -o OUT`` (lottery.cli.main), then reports VmHWM.
_CLI_LAUNCHER = (
    "import sys\n"
    "from lottery.cli import main\n"
    "rc = main(['run', sys.argv[1], '-o', sys.argv[2]])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "sys.stderr.write(f'VmHWM {hwm}\\n')\n"
    "sys.exit(rc)\n"
)


# ---------------------------------------------------------------- child measurements


def child_stages(path: str) -> dict[str, Any]:
    """Time each stage of ``lottery.run_chunks`` (what the CLI runs) on one instance file, in
    this process, the same calls in the same order with the cyclic GC paused as it does, then
    write the chunks as ``python -m lottery run -o`` does."""
    from lottery._gc import paused_gc

    with paused_gc():
        return _stages(path)


def _stages(path: str) -> dict[str, Any]:
    from lottery import engine

    t = [time.perf_counter()]
    data = Path(path).read_bytes()
    t.append(time.perf_counter())
    cols, sha = engine._load(data)  # fast path, or the exact validator
    del data
    t.append(time.perf_counter())
    units = engine._Units(cols)
    t.append(time.perf_counter())
    tickets = engine._tickets(cols.seed, cols.tie_breaking, units)
    t.append(time.perf_counter())
    orders = engine._Orders(tickets, units)
    del tickets
    t.append(time.perf_counter())
    placed_k, held = engine._mechanism(cols, orders)
    t.append(time.perf_counter())
    chunks = engine._write(cols, units, orders, placed_k, held, sha)
    with open(os.devnull, "wb") as f:
        f.writelines(chunks)
    t.append(time.perf_counter())
    names = ("read", "load", "units", "tickets", "orders", "mechanism", "write")
    out: dict[str, Any] = {k: t[i + 1] - t[i] for i, k in enumerate(names)}
    out.update(total=t[-1] - t[0], bytes=sum(map(len, chunks)), rss_mb=_rss_mb())
    return out


def _messages(cols: Any, units: Any) -> list[bytes]:
    if cols.tie_breaking == "single":
        return [u.encode() + b"\x01" for u in units.ids]
    sch = [s.encode() + b"\x00" for s in units.school_ids]
    return [
        sch[s] + u.encode() + b"\x01"
        for u, ch in zip(units.ids, units.choices, strict=True)
        for s in ch
    ]


def child_tickets(path: str) -> dict[str, Any]:
    """Ratio (a): our ticket stage against a bare hmac.digest loop over the same messages."""
    import hmac

    from lottery import engine

    cols, _ = engine._load(Path(path).read_bytes())
    units = engine._Units(cols)
    msgs = _messages(cols, units)
    seed = cols.seed
    best_ours = best_bare = float("inf")
    for _ in range(3 if len(msgs) < 1_000_000 else 1):
        t0 = time.perf_counter()
        engine._tickets(seed, cols.tie_breaking, units)
        t1 = time.perf_counter()
        digest = hmac.digest
        for m in msgs:
            digest(seed, m, "sha256")
        t2 = time.perf_counter()
        best_ours = min(best_ours, t1 - t0)
        best_bare = min(best_bare, t2 - t1)
    return {"messages": len(msgs), "ours": best_ours, "bare": best_bare}


def child_baseline(path: str) -> dict[str, Any]:
    """Ratio (c) denominator: stdlib json.load of the file + the bare hmac loop of (a)."""
    import hmac

    t0 = time.perf_counter()
    with open(path, "rb") as f:
        obj = json.load(f)
    t1 = time.perf_counter()
    seed = bytes.fromhex(obj["seed"])
    units = list(dict.fromkeys(a.get("group") or a["id"] for a in obj["applicants"]))
    msgs = [u.encode() + b"\x01" for u in units]
    t2 = time.perf_counter()
    digest = hmac.digest
    for m in msgs:
        digest(seed, m, "sha256")
    t3 = time.perf_counter()
    return {"json_load": t1 - t0, "bare_hmac": t3 - t2, "rss_mb": _rss_mb()}


def child_ours_da(path: str) -> dict[str, Any]:
    """Ratio (b) numerators, best of 5 each: DA alone on the school orders (the input the peer
    is given), orders + DA from the tickets (the peer's create + solve), and all of ``draw``
    (tickets, orders, DA, Result)."""
    import lottery
    from lottery import engine
    from lottery.columns import columns_of

    inst = lottery.parse_instance(Path(path).read_bytes())
    best = {"draw": float("inf"), "orders+da": float("inf"), "da": float("inf")}
    for _ in range(5):
        t0 = time.perf_counter()
        res = lottery.draw(inst)
        t1 = time.perf_counter()
        cols = columns_of(inst)
        units = engine._Units(cols)
        tickets = engine._tickets(cols.seed, cols.tie_breaking, units)
        t2 = time.perf_counter()
        orders = engine._Orders(tickets, units)
        t3 = time.perf_counter()
        engine._mechanism(cols, orders)
        t4 = time.perf_counter()
        for k, v in (("draw", t1 - t0), ("orders+da", t4 - t2), ("da", t4 - t3)):
            best[k] = min(best[k], v)
    placed = {a: p.school for a, p in res.assignments.items() if p is not None}
    return {**best, "placed": placed}


def child_peer(path: str) -> dict[str, Any]:
    """Ratio (b) denominator: the PyPI ``matching`` hospital-resident solver, same preferences
    (school preference lists = our school orders, so the stable matchings must coincide)."""
    from matching.games import HospitalResident

    import lottery
    from lottery import engine
    from lottery.columns import columns_of

    inst = lottery.parse_instance(Path(path).read_bytes())
    assert all(a.group is None for a in inst.applicants)  # units = applicants
    resident_prefs = {a.id: list(a.choices) for a in inst.applicants}
    cols = columns_of(inst)
    units = engine._Units(cols)
    orders = engine._Orders(engine._tickets(cols.seed, cols.tie_breaking, units), units)
    st = orders.starts.tolist()
    g_unit = orders.g_unit.tolist()
    hospital_prefs = {
        sid: [units.ids[u] for u in g_unit[st[s] : st[s + 1]]]
        for s, sid in enumerate(units.school_ids)
    }
    capacities = {s.id: s.capacity for s in inst.schools}
    t0 = time.perf_counter()
    game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
    t1 = time.perf_counter()
    matching = game.solve(optimal="resident")
    t2 = time.perf_counter()
    placed = {r.name: h.name for h, rs in matching.items() for r in rs}
    return {"create": t1 - t0, "solve": t2 - t1, "placed": placed}


CHILDREN = {
    "stages": child_stages,
    "tickets": child_tickets,
    "baseline": child_baseline,
    "ours_da": child_ours_da,
    "peer": child_peer,
}


# ---------------------------------------------------------------- parent


def spawn(kind: str, path: Path, timeout: float | None = None) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--child", kind, str(path)]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, Any] = json.loads(p.stdout)
    return result


def cli_run(path: Path, out: Path) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of ``python -m lottery run`` on ``path``."""
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", _CLI_LAUNCHER, str(path), str(out)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"CLI failed on {path}: exit {p.returncode}: {p.stderr.decode()}")
    hwm_kb = int(p.stderr.decode().split("VmHWM ")[1].split()[0])
    return wall, hwm_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--peer-size", type=int, default=20000)
    ap.add_argument("--peer-timeout", type=float, default=300.0)
    ap.add_argument("--repeat", type=int, default=3, help="CLI and baseline runs (best of)")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "paiwei-bench"))
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, path = args.child
        # matching deep-copies its player graph recursively: give it a deep stack
        import threading

        sys.setrecursionlimit(1_000_000)
        threading.stack_size(1 << 30)
        box: list[dict[str, Any]] = []
        worker = threading.Thread(target=lambda: box.append(CHILDREN[kind](path)))
        worker.start()
        worker.join()
        print(json.dumps(box[0]))
        return

    import orjson

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    files: dict[tuple[int, str], Path] = {}
    for n in sizes:
        for mech in ("deferred-acceptance", "preference-rounds"):
            p = work / f"bench-{n}-{mech}.json"
            if not p.exists():
                p.write_bytes(orjson.dumps(make_instance(n, mechanism=mech)))
            files[n, mech] = p
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {_load()}; "
          f"instances in {work}")  # fmt: skip
    print("Stage columns: lottery.run_chunks's own stages, in-process (load = read checks,"
          " validation, instance_sha256;\nwrite = result bytes written to /dev/null). CLI ="
          " `python -m lottery run FILE -o OUT` in a fresh process; base = json.load(FILE)"
          f" + bare hmac loop;\nCLI wall and base: best of {args.repeat}, alternating; CLI RSS:"
          " the highest of them; (c) = CLI / base.\n")  # fmt: skip
    print(f"{'applicants':>10} {'mechanism':<19} {'MB':>5} {'load':>5} {'units':>5} "
          f"{'tickets':>7} {'orders':>6} {'mech':>5} {'write':>5} {'total':>6} "
          f"{'CLI wall':>8} {'CLI RSS MB':>10} {'base':>5} {'(c)':>5}")  # fmt: skip
    cli: dict[tuple[int, str], tuple[float, float]] = {}
    base: dict[tuple[int, str], float] = {}
    for (n, mech), p in files.items():
        st = spawn("stages", p)
        assert st is not None
        # CLI and baseline alternate, best of --repeat each: both sides see the same load.
        walls, rsses, bases = [], [], []
        for _ in range(args.repeat):
            wall, rss = cli_run(p, work / f"result-{n}-{mech}.json")
            walls.append(wall)
            rsses.append(rss)
            b = spawn("baseline", p)
            assert b is not None
            bases.append(b["json_load"] + b["bare_hmac"])
        cli[n, mech] = min(walls), max(rsses)
        base[n, mech] = min(bases)
        wall, rss = cli[n, mech]
        print(f"{n:>10} {mech:<19} {p.stat().st_size / 1e6:>5.1f} {st['load']:>5.2f} "
              f"{st['units']:>5.2f} {st['tickets']:>7.2f} {st['orders']:>6.2f} "
              f"{st['mechanism']:>5.2f} {st['write']:>5.2f} {st['total']:>6.2f} "
              f"{wall:>8.2f} {rss:>10.0f} {base[n, mech]:>5.2f} "
              f"{wall / base[n, mech]:>4.2f}x", flush=True)  # fmt: skip

    print("\n(a) ticket stage vs bare hmac.digest loop (best of 3)")
    for n in sizes:
        for tie in ("single", "multiple"):
            p = work / f"bench-{n}-{tie}-tickets.json"
            if not p.exists():
                p.write_bytes(orjson.dumps(make_instance(n, tie_breaking=tie)))
            t = spawn("tickets", p)
            assert t is not None
            ratio = t["ours"] / t["bare"]
            print(f"  {n:>8} {tie:<8} {t['messages']:>8} msgs: ours {t['ours']:.3f} s, "
                  f"bare {t['bare']:.3f} s, ratio {ratio:.2f}x", flush=True)  # fmt: skip

    print(f"\n(b) our DA vs matching.HospitalResident on {args.peer_size} singletons")
    pp = work / f"peer-{args.peer_size}.json"
    if not pp.exists():
        pp.write_bytes(orjson.dumps(make_instance(args.peer_size, twins=0.0)))
    ours = spawn("ours_da", pp)
    assert ours is not None
    print(f"  ours (best of 5): DA {ours['da'] * 1e3:.1f} ms; orders + DA "
          f"{ours['orders+da'] * 1e3:.1f} ms; draw() {ours['draw'] * 1e3:.1f} ms "
          f"(tickets, orders, DA, Result)")  # fmt: skip
    peer = spawn("peer", pp, timeout=args.peer_timeout)
    if peer is None:
        print(f"  matching: did not finish within {args.peer_timeout:.0f} s (bounded); "
              f"ratio >= {args.peer_timeout / ours['da']:.0f}x")  # fmt: skip
    else:
        same = peer["placed"] == ours["placed"]
        print(f"  matching: create {peer['create']:.2f} s, solve {peer['solve']:.2f} s; "
              f"same matching: {same}")  # fmt: skip
        both = peer["create"] + peer["solve"]
        print(f"  (b) solve / DA {peer['solve'] / ours['da']:.0f}x; "
              f"(create + solve) / (orders + DA) {both / ours['orders+da']:.0f}x; "
              f"(create + solve) / draw() {both / ours['draw']:.0f}x")  # fmt: skip

    big = max(sizes)
    print(f"\n(c) CLI end to end at {big} (deferred-acceptance, single, all-or-none)")
    wall, rss = cli[big, "deferred-acceptance"]
    denom = base[big, "deferred-acceptance"]
    print(f"  CLI {wall:.2f} s, peak RSS {rss:.0f} MB; json.load + bare hmac {denom:.2f} s; "
          f"ratio {wall / denom:.2f}x (target <= 1.0x, <= 1500 MB)")  # fmt: skip


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
