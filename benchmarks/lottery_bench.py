"""Lottery engine benchmark (issue 2, "Performance").  Not a test: prints a table and ratios.

    python benchmarks/lottery_bench.py [--sizes 10000,100000,1000000] [--peer-timeout 300]

Instances: n applicants with 5 choices each among n/50 schools of 50 seats, Zipf-like school
popularity (weight 1/rank), 10% of applicants with a priority, 2% in twin groups.  The data
generator uses numpy's PRNG (benchmark data only; the draw never does).  Every measurement runs
in a fresh child process so that its peak RSS (ru_maxrss) is its own.

Ratios, all measured in this run:
  (a) ticket stage / bare ``hmac.digest`` loop over the same messages     (target <= 1.5)
  (b) ``matching`` HospitalResident solve / our DA on 20k singletons       (target >= 300)
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
    """Time each stage of ``run`` on one instance file, in this process (the cyclic GC paused,
    as ``run`` does)."""
    from lottery._gc import paused_gc

    with paused_gc():
        return _stages(path)


def _stages(path: str) -> dict[str, Any]:
    import lottery
    from lottery import engine

    t0 = time.perf_counter()
    data = Path(path).read_bytes()
    t1 = time.perf_counter()
    inst = lottery.parse_instance(data)
    t2 = time.perf_counter()
    units = engine._Units(inst)
    t3 = time.perf_counter()
    engine._tickets(inst.seed, inst.tie_breaking, units)
    t4 = time.perf_counter()
    orders, placed, admitted = engine._assign(
        inst, units, inst.seed
    )  # tickets again + orders + mech
    t5 = time.perf_counter()
    res = engine._result(inst, units, orders, placed, admitted)
    t6 = time.perf_counter()
    out = lottery.result_bytes(res)
    t7 = time.perf_counter()
    return {
        "read": t1 - t0, "parse+validate": t2 - t1, "units": t3 - t2, "tickets": t4 - t3,
        "orders+mechanism": (t5 - t4) - (t4 - t3), "result": t6 - t5, "serialise": t7 - t6,
        "total": (t7 - t0) - (t4 - t3), "bytes": len(out), "rss_mb": _rss_mb(),
    }  # fmt: skip


def _messages(inst: Any, units: Any) -> list[bytes]:
    if inst.tie_breaking == "single":
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

    import lottery
    from lottery import engine

    inst = lottery.parse_instance(Path(path).read_bytes())
    units = engine._Units(inst)
    msgs = _messages(inst, units)
    seed = inst.seed
    best_ours = best_bare = float("inf")
    for _ in range(3 if len(msgs) < 1_000_000 else 1):
        t0 = time.perf_counter()
        engine._tickets(seed, inst.tie_breaking, units)
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
    """Ratio (b) numerator: our whole draw (tickets, orders, DA, result) and DA alone."""
    import lottery
    from lottery import engine

    inst = lottery.parse_instance(Path(path).read_bytes())
    best_draw = best_assign = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        res = lottery.draw(inst)
        t1 = time.perf_counter()
        units = engine._Units(inst)
        t2 = time.perf_counter()
        engine._assign(inst, units, inst.seed)
        t3 = time.perf_counter()
        best_draw = min(best_draw, t1 - t0)
        best_assign = min(best_assign, t3 - t2)
    placed = {a: p.school for a, p in res.assignments.items() if p is not None}
    return {"draw": best_draw, "assign": best_assign, "placed": placed}


def child_peer(path: str) -> dict[str, Any]:
    """Ratio (b) denominator: the PyPI ``matching`` hospital-resident solver, same preferences
    (school preference lists = our school orders, so the stable matchings must coincide)."""
    from matching.games import HospitalResident

    import lottery

    inst = lottery.parse_instance(Path(path).read_bytes())
    res = lottery.draw(inst)
    resident_prefs = {a.id: list(a.choices) for a in inst.applicants}
    hospital_prefs = {
        sid: [*out.admitted, *out.waitlist] for sid, out in res.schools.items()
    }  # placed lower-ranked applicants are neither admitted nor waitlisted here: add them
    chosen: dict[str, list[str]] = {s.id: [] for s in inst.schools}
    for a in inst.applicants:
        for c in a.choices:
            chosen[c].append(a.id)
    from lottery import engine

    units = engine._Units(inst)
    orders = engine._Orders(inst.seed, inst.tie_breaking, units)
    st = orders.starts.tolist()
    g_unit = orders.g_unit.tolist()
    for s, sid in enumerate(units.school_ids):
        hospital_prefs[sid] = [units.ids[u] for u in g_unit[st[s] : st[s + 1]]]
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
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; instances in {work}\n")
    print(f"{'applicants':>10} {'mechanism':<20} {'MB':>6} {'parse':>7} {'tickets':>8} "
          f"{'order+mech':>10} {'result':>7} {'write':>7} {'total':>7} {'CLI wall':>9} "
          f"{'CLI RSS MB':>10}")  # fmt: skip
    cli: dict[tuple[int, str], tuple[float, float]] = {}
    for (n, mech), p in files.items():
        st = spawn("stages", p)
        assert st is not None
        cli[n, mech] = cli_run(p, work / f"result-{n}-{mech}.json")
        print(f"{n:>10} {mech:<20} {p.stat().st_size / 1e6:>6.0f} {st['parse+validate']:>7.2f} "
              f"{st['tickets']:>8.2f} {st['orders+mechanism']:>10.2f} {st['result']:>7.2f} "
              f"{st['serialise']:>7.2f} {st['total']:>7.2f} {cli[n, mech][0]:>9.2f} "
              f"{cli[n, mech][1]:>10.0f}", flush=True)  # fmt: skip

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
    print(f"  ours: draw() {ours['draw']:.3f} s (DA incl. tickets/orders {ours['assign']:.3f} s)")
    peer = spawn("peer", pp, timeout=args.peer_timeout)
    if peer is None:
        print(f"  matching: did not finish within {args.peer_timeout:.0f} s (bounded); "
              f"ratio >= {args.peer_timeout / ours['draw']:.0f}x")  # fmt: skip
    else:
        same = peer["placed"] == ours["placed"]
        print(f"  matching: create {peer['create']:.2f} s, solve {peer['solve']:.2f} s; "
              f"same matching: {same}")  # fmt: skip
        print(
            f"  ratio solve/draw {peer['solve'] / ours['draw']:.0f}x, "
            f"(create+solve)/draw {(peer['create'] + peer['solve']) / ours['draw']:.0f}x"
        )

    big = max(sizes)
    print(f"\n(c) CLI end to end at {big} (deferred-acceptance, single, all-or-none)")
    base = spawn("baseline", files[big, "deferred-acceptance"])
    assert base is not None
    wall, rss = cli[big, "deferred-acceptance"]
    denom = base["json_load"] + base["bare_hmac"]
    print(
        f"  CLI {wall:.2f} s, peak RSS {rss:.0f} MB; json.load {base['json_load']:.2f} s + "
        f"bare hmac {base['bare_hmac']:.2f} s = {denom:.2f} s; ratio {wall / denom:.2f}x"
    )


if __name__ == "__main__":
    main()
