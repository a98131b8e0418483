"""Benchmark: build and verify a publication bundle for a large draw.

Builds a campaign of N applicants (default 1,000,000): one ``registration`` log entry per
applicant (salted record hash), a full draw transcript (3 witnesses, a real drand quicknet
beacon), the lottery run, a signed and cosigned checkpoint, and the bundle. Then, in the same
process, measures

- ``lottery``: recomputing the lottery alone (``lottery.run`` on instance.json's bytes),
- ``verify``:  ``audit.verify.verify_bundle`` as a notary runs it -- every check, including
  that recomputation, which it starts in a second process so that it overlaps the log checks
  on a machine with two cores (its CPU time counts the child's), and
- ``verify, all in one process``: the same with the engine run in this process and timed,
  which splits verify into the recomputation and the other checks,

and prints the ratio verify / lottery (target: <= 2.0) in wall-clock and CPU time (with
``--repeat R``: each measured R times in turn, then the ratio of the best of each), the load
average (the machine may be shared: compare figures from one run) and the peak RSS of the
whole run (the build dominates it). Instance shape: schools = N/50, five distinct choices each
drawn with Zipf-like popularity, 10% with a priority at their first choice, 2% in twin groups,
deferred acceptance, single tie-breaking.

    /work/venv/bin/python benchmarks/audit_bench.py [--applicants N] [--keep DIR] [--repeat R]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lottery
from audit import draw, note
from audit.bundle import DrawFiles, write_bundle
from audit.checkpoint import sign_checkpoint
from audit.cosignature import add_cosignature
from audit.log import LogBuilder
from audit.registration import registration_body
from audit.verify import render_text, verify_bundle

ORIGIN = "bench.paiwei.example/log"
DRAW_ID = "bench-r1"
# A published drand quicknet round (see tests/audit/fixtures.py).
QUICKNET_ROUND = 30662990
QUICKNET_SIG = (
    "8b2ebe176d153849d5db7f358a3a21be96f8c5d1c26ed2b530fff4419face890"
    "9d77f4ee6a211623e2432c30841411b5"
)


def make_instance(n: int, rng: np.random.Generator) -> dict[str, object]:
    """A synthetic instance (benchmark data only; numpy's stream is not part of any contract)."""
    n_schools = max(n // 50, 6)
    weights = 1.0 / np.arange(1, n_schools + 1) ** 0.8
    weights /= weights.sum()
    schools = [{"id": f"S{j:05d}", "capacity": 50} for j in range(n_schools)]
    picks = rng.choice(n_schools, size=(n, 8), p=weights)
    prio = rng.random(n) < 0.10
    applicants: list[dict[str, object]] = []
    i = 0
    while i < n:
        row = list(dict.fromkeys(picks[i].tolist()))[:5]
        while len(row) < 5:
            extra = int(rng.integers(n_schools))
            if extra not in row:
                row.append(extra)
        choices = [f"S{j:05d}" for j in row]
        twins = i + 1 < n and rng.random() < 0.01  # ~2% of applicants are in twin pairs
        members = [i, i + 1] if twins else [i]
        for m in members:
            a: dict[str, object] = {"id": f"A{m:07d}", "choices": choices}
            if prio[m]:
                a["priority"] = {choices[0]: 1}
            if twins:
                a["group"] = f"G{i:07d}"
            applicants.append(a)
        i += len(members)
    return {
        "format": "paiwei-instance/1",
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "schools": schools,
        "applicants": applicants,
    }


def build(n: int, out: Path) -> tuple[list[str], str, dict[str, float]]:
    timings: dict[str, float] = {}
    rng = np.random.default_rng(20260601)
    log_skey, log_vkey = note.generate_key(ORIGIN, seed=hashlib.sha256(b"bench-log").digest())
    wit = [
        note.generate_key(f"w{i}.example", seed=hashlib.sha256(b"bw%d" % i).digest())
        for i in range(3)
    ]
    t = time.perf_counter()
    instance = make_instance(n, rng)
    timings["generate instance"] = time.perf_counter() - t

    t = time.perf_counter()
    log = LogBuilder()
    for a in instance["applicants"]:  # type: ignore[attr-defined]
        aid = a["id"]
        salt = hashlib.sha256(aid.encode()).digest()
        body = registration_body(aid, a["choices"], {}, {"name": "x" + aid, "id_number": aid}, salt)
        log.append("2026-05-20T08:00:00Z", "registration", "service", body)
    timings["log registrations"] = time.perf_counter() - t
    # The checkpoint a notary cosigned after registration closed: the verifier's --previous.
    previous = sign_checkpoint(ORIGIN, log.size, log.root(), log_skey)
    previous = add_cosignature(previous, wit[0][0], 1_780_000_000)

    announced = {"source": "drand-quicknet", "round": QUICKNET_ROUND}
    roster = draw.roster_body(
        DRAW_ID, instance, beacon=announced, witnesses=[v for _, v in wit], min_reveals=2
    )
    log.append("2026-06-01T08:00:00Z", "draw.roster", "officer", roster)
    digest = bytes.fromhex(str(roster["instance_sha256"]))
    secrets = [hashlib.sha256(b"s%d" % i).digest() for i in range(3)]
    for i, (skey, vkey) in enumerate(wit):
        log.append(
            "2026-06-01T08:10:00Z",
            "draw.commit",
            "w",
            draw.commit_body(DRAW_ID, vkey, draw.commit_note(DRAW_ID, digest, secrets[i], skey)),
        )
    for i, (skey, vkey) in enumerate(wit):
        log.append(
            "2026-07-23T07:00:00Z",
            "draw.reveal",
            "w",
            draw.reveal_body(DRAW_ID, vkey, draw.reveal_note(DRAW_ID, digest, secrets[i], skey)),
        )
    evidence = {"source": "drand-quicknet", "round": QUICKNET_ROUND, "signature": QUICKNET_SIG}
    value = hashlib.sha256(bytes.fromhex(QUICKNET_SIG)).digest()
    log.append(
        "2026-07-23T07:40:00Z", "draw.beacon", "officer", draw.beacon_body(DRAW_ID, evidence, value)
    )
    reveals = [(draw.witness_id(v), secrets[i]) for i, (_, v) in enumerate(wit)]
    seed = draw.derive_seed(digest, value, reveals)
    log.append(
        "2026-07-23T07:40:01Z",
        "draw.seed",
        "officer",
        draw.seed_body(DRAW_ID, seed, [k for k, _ in reveals], []),
    )
    instance["seed"] = seed.hex()
    instance_bytes = lottery.canonical_json(instance) + b"\n"
    del instance
    t = time.perf_counter()
    result = lottery.run(instance_bytes)
    timings["lottery (during build)"] = time.perf_counter() - t
    log.append("2026-07-23T07:40:02Z", "draw.result", "officer", draw.result_body(DRAW_ID, result))
    cp = sign_checkpoint(ORIGIN, log.size, log.root(), log_skey)
    for i, (skey, _) in enumerate(wit[:2]):
        cp = add_cosignature(cp, skey, 1_784_800_000 + i)
    t = time.perf_counter()
    write_bundle(
        out,
        origin=ORIGIN,
        entries=log.entries,
        checkpoint=cp,
        draws={DRAW_ID: DrawFiles(instance_bytes, result)},
        log_vkey=log_vkey,
        witness_vkeys=[v for _, v in wit],
    )
    timings["write bundle"] = time.perf_counter() - t
    return [log_vkey, *(v for _, v in wit)], previous, timings


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (the verifier's second one)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--applicants", type=int, default=1_000_000)
    ap.add_argument("--keep", help="write the bundle here and keep it")
    ap.add_argument(
        "--repeat", type=int, default=1, help="measure lottery alone and verify R times, in turn"
    )
    args = ap.parse_args()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / "bundle"
    try:
        trust, previous, timings = build(args.applicants, tmp)
        instance_bytes = (tmp / "draws" / DRAW_ID / "instance.json").read_bytes()
        # The real engine, with its run() timed: verify's own work is the rest.
        inside: list[tuple[float, float]] = []

        def timed_run(data: bytes) -> bytes:
            t, c = time.perf_counter(), time.process_time()
            try:
                return lottery.run(data)
            finally:
                inside.append((time.perf_counter() - t, time.process_time() - c))

        engine = types.ModuleType("lottery")
        engine.run = timed_run  # type: ignore[attr-defined]
        rows: list[tuple[float, ...]] = []
        for _ in range(args.repeat):
            gc.collect()
            t, c = time.perf_counter(), _cpu()
            lottery.run(instance_bytes)
            t_lottery, c_lottery = time.perf_counter() - t, _cpu() - c
            # As a notary runs it: the recomputation in a second process (audit.verify).
            gc.collect()
            t, c = time.perf_counter(), _cpu()
            report = verify_bundle(tmp, trust, witnesses=2, previous=previous, now=1_800_000_000)
            t_verify, c_verify = time.perf_counter() - t, _cpu() - c
            assert report.exit_code == 0, render_text(report)
            # All in this process, the engine timed: splits verify into its parts.
            gc.collect()
            t, c = time.perf_counter(), _cpu()
            report = verify_bundle(
                tmp, trust, witnesses=2, previous=previous, now=1_800_000_000, lottery=engine
            )
            t_serial, c_serial = time.perf_counter() - t, _cpu() - c
            row = (t_lottery, c_lottery, t_verify, c_verify, t_serial, c_serial, *inside[-1])
            rows.append(row)
        print(render_text(report))
        print(f"applicants                  {args.applicants:>12,}")
        print(f"log entries                 {report.facts['log_size']:>12,}")
        for name, secs in timings.items():
            print(f"{name:<28}{secs:>12.2f} s")
        print(f"{'':<28}{'wall':>12}   {'cpu':>9}")
        for i, (tl, cl, tv, cv, ts, cs, ti, ci) in enumerate(rows):
            if len(rows) > 1:
                print(f"run {i + 1}")
            print(f"{'recompute lottery alone':<28}{tl:>12.2f} s {cl:>9.2f} s")
            print(f"{'verify bundle (all checks)':<28}{tv:>12.2f} s {cv:>9.2f} s")
            ratio = f"{tv / tl:>12.2f}x {cv / cl:>9.2f}x"
            print(f"{'ratio verify / lottery':<28}{ratio}   (target <= 2.0)")
            print(f"{'verify, all in one process':<28}{ts:>12.2f} s {cs:>9.2f} s")
            print(f"{'  of which lottery.run':<28}{ti:>12.2f} s {ci:>9.2f} s")
            print(f"{'  of which the other checks':<28}{ts - ti:>12.2f} s {cs - ci:>9.2f} s")
            ratio = f"{ts / tl:>12.2f}x {cs / cl:>9.2f}x"
            print(f"{'ratio, all in one process':<28}{ratio}")
        if len(rows) > 1:
            tl, cl = min(r[0] for r in rows), min(r[1] for r in rows)
            tv, cv = min(r[2] for r in rows), min(r[3] for r in rows)
            print(
                f"{'best of each, ratio':<28}{tv / tl:>12.2f}x {cv / cl:>9.2f}x   "
                f"(lottery {tl:.2f} s, verify {tv:.2f} s wall)"
            )
        print(f"{'load average (1 min)':<28}{os.getloadavg()[0]:>12.2f}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'peak RSS (whole run)':<28}{rss:>12.0f} MB")
        return report.exit_code
    finally:
        if not args.keep:
            shutil.rmtree(tmp.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
