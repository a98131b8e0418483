"""The notary's verifier: every check of a publication bundle, each reported by name.

Theory of operation
-------------------
:func:`verify_bundle` reads a bundle (audit/bundle.py) and runs the checks of
docs/notary-guide.md in order. Each check ends as ``passed``, ``failed`` (with the evidence: what
was expected and what was found) or ``not performed`` (with the reason). The verdict is
``VALID`` only if every check passed; ``INVALID`` if any failed; otherwise ``INCOMPLETE``. A
check that could not be performed is never reported as passed.

Checks, by name:

- ``bundle.manifest``      manifest fields agree with the files (origin, size, root, draws)
- ``log.entries``          every line is a canonical paiwei-log/1 entry, seq = line number,
                           time non-decreasing
- ``log.tree``             RFC 9162 root and size of the entries equal the checkpoint's
- ``log.signature``        the checkpoint is signed by a trusted key named after the origin
- ``log.cosignatures``     at least K cosignatures (tlog-cosignature) by trusted witnesses
- ``log.consistency``      the log is an append-only extension of ``--previous`` (RFC 9162
                           §2.1.4 consistency proof)
- ``log.checkpoints``      (when the bundle has earlier checkpoints) each is signed by the log
                           and consistent with the final one; their cosignatures are time anchors
- ``draw[<id>].transcript``  draw entries in order: roster, commit+, reveal*, beacon, seed, result
- ``draw[<id>].witnesses``   roster witnesses trusted; commit and reveal notes signed by them
- ``draw[<id>].reveals``     reveals match commitments; at least the minimum number of reveals
- ``draw[<id>].beacon``      the beacon is the one fixed in the roster and its value is right
                           (audit.beacon)
- ``draw[<id>].timing``      commitments and reveals were logged before the beacon was published
                           (and, when a trusted cosignature covers them, witnessed so)
- ``draw[<id>].seed``        the seed recomputed from roster digest, beacon and reveals
- ``draw[<id>].instance``    instance.json's digest without seed equals the roster's; its seed
                           equals the logged seed
- ``draw[<id>].result-entry``  result.json's SHA-256 and counts equal the logged draw.result
- ``draw[<id>].recompute``   the lottery engine run on instance.json gives result.json byte for
                           byte

The engine runs once per draw (it is most of the time). Its output also lets the instance and
result-entry checks read the files without parsing them when that is provably the same
(``audit.draw.read_canonical_instance``, ``audit.draw.engine_result_body``; docs/log-format.md
§6); otherwise, and without an engine, they use their definitions.
"""

from __future__ import annotations

import html
import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Literal

from audit import draw as drawmod
from audit import note
from audit.bundle import Bundle, read_bundle
from audit.checkpoint import Checkpoint, parse_checkpoint, verify_checkpoint
from audit.cosignature import verify_cosignatures
from audit.errors import AuditError, KeyFormatError, VerificationError
from audit.log import LogEntry, scan_entries_file
from audit.merkle import MerkleTree, verify_consistency

__all__ = [
    "Check",
    "Progress",
    "Report",
    "TrustRoots",
    "render_html",
    "render_text",
    "verify_bundle",
]

Status = Literal["passed", "failed", "not performed"]
#: progress(description, completed, total) -- called now and then during long loops.
Progress = Callable[[str, int, int], None]
_MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class Check:
    """One named check and its outcome."""

    name: str
    status: Status
    detail: str


@dataclass(slots=True)
class Report:
    """The outcome of a verification: named checks and the verdict drawn from them."""

    subject: str
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if any(c.status == "failed" for c in self.checks):
            return "INVALID"
        if not self.checks or any(c.status != "passed" for c in self.checks):
            return "INCOMPLETE"
        return "VALID"

    @property
    def exit_code(self) -> int:
        """0 only if every check passed; 1 otherwise (failed or not performed)."""
        return 0 if self.verdict == "VALID" else 1

    def add(self, name: str, status: Status, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    def to_json(self) -> dict[str, object]:
        return {
            "format": "paiwei-audit-report/1",
            "subject": self.subject,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "facts": self.facts,
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks
            ],
        }


@dataclass(frozen=True, slots=True)
class TrustRoots:
    """Keys pinned out of band: Ed25519 vkeys (log, witnesses) and cosigner vkeys."""

    keys: tuple[note.VerifierKey, ...]

    @classmethod
    def parse(cls, texts: Iterable[str]) -> TrustRoots:
        return cls(tuple(note.parse_verifier_key(t) for t in texts if t.strip()))

    def log_keys(self, origin: str) -> list[str]:
        return [k.text for k in self.keys if k.alg == note.ALG_ED25519 and k.name == origin]

    def witness_keys(self, origin: str) -> list[str]:
        return [k.text for k in self.keys if k.name != origin]

    def trusts(self, vkey: str) -> bool:
        try:
            key = note.parse_verifier_key(vkey)
        except KeyFormatError:
            return False
        return key in self.keys


class CheckRunner:
    """Runs one check: a VerificationError (or AuditError) becomes a failed check."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def __call__(self, name: str, fn: Callable[[], str]) -> bool:
        try:
            detail = fn()
        except NotPerformed as exc:
            self.report.add(name, "not performed", str(exc))
            return False
        except (VerificationError, AuditError) as exc:
            self.report.add(name, "failed", str(exc))
            return False
        except Exception as exc:
            # Untrusted bundle content of an unexpected shape (e.g. a number where a list
            # belongs): the check cannot pass, and the report says what broke.
            self.report.add(name, "failed", f"malformed input ({type(exc).__name__}: {exc})")
            return False
        self.report.add(name, "passed", detail)
        return True


class NotPerformed(Exception):
    """Raised inside a check that cannot be carried out; reported with its reason."""


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


#: Instances smaller than this (about 100k applicants) are recomputed in this process: their
#: draw takes about as long as starting a second interpreter with numpy (~0.2-0.3 s).
BACKGROUND_MIN_BYTES = 1 << 23


class _Recomputation:
    """The lottery engine for the draw checks, with each large draw's recomputation started as
    ``python -m lottery run -`` in a second process before the log checks, so that on two
    cores it overlaps them (on a 1M-applicant bundle each takes about as long as the other).

    ``run(data)`` returns that process's output for those very bytes when it exited 0, and
    otherwise runs the engine here, which alone reports what it rejects: the result is the
    engine's either way, only the place it ran differs.  The child reads the bytes this
    process holds (not the file again) and imports the same ``lottery`` package.
    """

    def __init__(self, engine: ModuleType, instances: Iterable[bytes], background: bool) -> None:
        self._engine = engine
        self._pending: dict[int, tuple[bytes, subprocess.Popen[bytes], IO[bytes]]] = {}
        init = getattr(engine, "__file__", None)
        if not background or init is None or (os.cpu_count() or 1) < 2:
            return
        home = str(Path(init).resolve().parents[1])  # the directory holding the package
        path = os.pathsep.join([home, os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "PYTHONPATH": path}
        for data in instances:
            if len(data) < BACKGROUND_MIN_BYTES:
                continue
            out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by run() or close()
            try:
                with tempfile.TemporaryFile() as src:
                    src.write(data)
                    src.seek(0)
                    child = subprocess.Popen(
                        [sys.executable, "-m", "lottery", "run", "-"],
                        stdin=src, stdout=out, stderr=subprocess.DEVNULL, env=env,
                    )  # fmt: skip
            except OSError:  # no room for the files, no process: this one runs here
                out.close()
                continue
            self._pending[id(data)] = (data, child, out)

    def run(self, data: bytes) -> Any:
        started = self._pending.pop(id(data), None)
        if started is not None:
            held, child, out = started
            with out:
                if child.wait() == 0 and held is data:
                    out.seek(0)
                    return out.read()
        return self._engine.run(data)  # rejected, or the child failed: the engine here decides

    def close(self) -> None:
        for _, child, out in self._pending.values():
            child.kill()
            child.wait()
            out.close()
        self._pending.clear()


def _unix(t: str) -> float:
    return datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp() + float(
        "0." + (t[20:-1] or "0")
    )


def _summarise(problems: list[str]) -> str:
    shown = "; ".join(problems[:_MAX_LISTED])
    more = len(problems) - _MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def verify_bundle(
    bundle_dir: str | Path,
    trust: Sequence[str],
    *,
    witnesses: int = 0,
    previous: str | None = None,
    now: int | None = None,
    progress: Progress | None = None,
    beacon: ModuleType | Literal["auto"] | None = "auto",
    lottery: ModuleType | Literal["auto"] | None = "auto",
) -> Report:
    """Verify a publication bundle against pinned trust roots; return the report.

    ``trust`` holds verifier keys: the log's (named after the origin), the witnesses' and
    notaries'. ``witnesses`` is the minimum number of trusted cosignatures; ``previous`` a
    checkpoint note seen earlier (the consistency check is not performed without it); ``now``
    (Unix seconds) rejects cosignatures dated in the future. ``beacon``/``lottery`` default to
    importing ``audit.beacon`` and ``lottery``; if unavailable, the checks that need them are
    reported as not performed.  With the default ``lottery`` on a machine with two or more
    cores, large draws are recomputed in a second process while the log is checked
    (:class:`_Recomputation`).

    Raises :class:`audit.bundle.BundleError` or :class:`audit.errors.KeyFormatError` when the
    input is unusable (no manifest, unreadable key): there is nothing to report on.
    """
    roots = TrustRoots.parse(trust)
    bundle = read_bundle(bundle_dir)
    beacon_mod = _optional_module("audit.beacon") if beacon == "auto" else beacon
    lottery_mod = _optional_module("lottery") if lottery == "auto" else lottery
    if lottery_mod is not None and not callable(getattr(lottery_mod, "run", None)):
        lottery_mod = None
    engine = None
    if lottery_mod is not None:
        instances = [f.instance for f in bundle.draws.values()]
        engine = _Recomputation(lottery_mod, instances, background=lottery == "auto")
    try:
        return _verify(
            report_for=str(bundle_dir), bundle=bundle, roots=roots, beacon_mod=beacon_mod,
            engine=engine, witnesses=witnesses, previous=previous, now=now, progress=progress,
        )  # fmt: skip
    finally:
        if engine is not None:
            engine.close()


def _verify(
    *,
    report_for: str,
    bundle: Bundle,
    roots: TrustRoots,
    beacon_mod: ModuleType | None,
    engine: _Recomputation | None,
    witnesses: int,
    previous: str | None,
    now: int | None,
    progress: Progress | None,
) -> Report:
    report = Report(report_for)
    origin = str(bundle.manifest.get("origin", ""))
    total = bundle.entry_count
    report.facts.update({"origin": origin, "log_size": total})

    tick = progress or (lambda _d, _c, _t: None)
    # The log checks; the lines and the tree are let go before the draw checks run the
    # lottery engine, which wants the memory.
    entries, anchors = _verify_log(
        report, bundle, roots, total, witnesses=witnesses, previous=previous, now=now, tick=tick
    )
    bundle.entries = b""

    by_draw: dict[str, list[LogEntry]] = {}
    for maybe in entries.values():
        if maybe.kind.startswith("draw."):
            by_draw.setdefault(str(maybe.body.get("draw")), []).append(maybe)
    for draw_id in sorted(
        set(bundle.draws)
        | {str(d.get("id")) for d in bundle.manifest.get("draws", []) if isinstance(d, dict)}
    ):
        tick(f"verifying draw {draw_id}", 0, 1)
        _verify_draw(
            report,
            draw_id,
            by_draw.get(draw_id, []),
            bundle,
            roots,
            beacon_mod,
            engine,
            anchors,
        )
        tick(f"verifying draw {draw_id}", 1, 1)
    return report


def _verify_log(
    report: Report,
    bundle: Bundle,
    roots: TrustRoots,
    total: int,
    *,
    witnesses: int,
    previous: str | None,
    now: int | None,
    tick: Progress,
) -> tuple[dict[int, LogEntry], list[tuple[int, str, int]]]:
    """The bundle.manifest and log.* checks; returns the parsed draw.* entries by seq and the
    witness-timed anchors (tree size, witness, cosignature time). ``total`` is the number of
    entries (``bundle.entry_count``, counted once)."""
    run = CheckRunner(report)
    origin = str(bundle.manifest.get("origin", ""))
    # One pass over the entries file (audit.log.scan_entries_file): leaf hashes, the parsed draw.*
    # entries and the entries' problems; all reused by the later checks.
    scan = scan_entries_file(
        bundle.entries, progress=lambda done: tick("checking log entries", done, total)
    )
    tick("checking log entries", total, total)
    tree = MerkleTree(scan.leaf_hashes)
    # Only draw.* entries are kept parsed (memory stays proportional to the raw lines).
    entries = scan.draw_entries
    entry_problems = scan.problems

    cp_holder: list[Checkpoint] = []

    def manifest_check() -> str:
        problems = list(bundle.problems)
        m = bundle.manifest
        if m.get("log_size") != total:
            problems.append(
                f"log_size is {m.get('log_size')!r} but entries.jsonl has {total} lines"
            )
        if m.get("root") != tree.root().hex():
            problems.append(f"root {m.get('root')!r} is not the entries' root {tree.root().hex()}")
        logged = {str(e.body.get("draw")) for e in entries.values() if e.kind == "draw.roster"}
        listed = set(bundle.draws) | {
            str(d.get("id")) for d in m.get("draws", []) if isinstance(d, dict)
        }
        for missing in sorted(logged - listed):
            problems.append(f"draw {missing} is in the log but not in the bundle")
        for item in m.get("draws", []):
            draw_id = item.get("id")
            for kind in ("roster", "result"):
                seq = item.get(f"{kind}_seq")
                e = entries.get(seq) if isinstance(seq, int) else None
                if e is None or e.kind != f"draw.{kind}" or e.body.get("draw") != draw_id:
                    problems.append(
                        f"draw {draw_id}: {kind}_seq {seq!r} is not its draw.{kind} entry"
                    )
        if problems:
            raise VerificationError("manifest disagrees with the bundle: " + _summarise(problems))
        return f"origin {origin}, {total} entries, {len(bundle.draws)} draw(s)"

    run("bundle.manifest", manifest_check)

    def entries_check() -> str:
        if entry_problems:
            raise VerificationError(
                f"{len(entry_problems)} problem(s) in log/entries.jsonl: "
                + _summarise(entry_problems)
            )
        return f"{total} canonical entries, seq 0..{total - 1}, time non-decreasing"

    run("log.entries", entries_check)

    def tree_check() -> str:
        cp = parse_checkpoint(note.parse_note(bundle.checkpoint).text)
        cp_holder.append(cp)
        if cp.origin != origin:
            raise VerificationError(
                "checkpoint origin differs from the manifest's", expected=origin, found=cp.origin
            )
        if cp.size != tree.size:
            raise VerificationError(
                "checkpoint size differs from the number of entries",
                expected=tree.size,
                found=cp.size,
            )
        if cp.root != tree.root():
            raise VerificationError(
                "RFC 9162 root of the entries differs from the checkpoint's",
                expected=tree.root(),
                found=cp.root,
            )
        return f"size {cp.size}, root {cp.root.hex()}"

    run("log.tree", tree_check)

    log_keys = roots.log_keys(origin)

    def signature_check() -> str:
        if not log_keys:
            raise VerificationError(
                f"no trusted key is named after the origin {origin!r}; "
                "pass the log's vkey with --trust"
            )
        verify_checkpoint(bundle.checkpoint, log_keys)
        return f"signed by trusted log key {note.parse_verifier_key(log_keys[0]).name}"

    signed_ok = run("log.signature", signature_check)

    def cosignature_check() -> str:
        found = verify_cosignatures(bundle.checkpoint, roots.witness_keys(origin), now=now)
        report.facts["cosigners"] = [c.name for c in found]
        names = ", ".join(
            f"{c.name} at {datetime.fromtimestamp(c.timestamp, UTC):%Y-%m-%d %H:%M:%SZ}"
            for c in found
        )
        if len(found) < witnesses:
            raise VerificationError(
                "too few cosignatures by trusted witnesses",
                expected=f"at least {witnesses}",
                found=f"{len(found)}" + (f" ({names})" if names else ""),
            )
        return f"{len(found)} trusted cosignature(s), {witnesses} required" + (
            f": {names}" if names else ""
        )

    run("log.cosignatures", cosignature_check)

    def consistency_check() -> str:
        if previous is None:
            raise NotPerformed("no previously seen checkpoint given (--previous)")
        prev = verify_checkpoint(previous, log_keys) if log_keys else None
        if prev is None:
            raise VerificationError("cannot check the previous checkpoint: no trusted log key")
        if not cp_holder:
            raise VerificationError("the bundle's checkpoint is unreadable")
        cp = cp_holder[0]
        if prev.origin != cp.origin:
            raise VerificationError(
                "previous checkpoint is for another log", expected=cp.origin, found=prev.origin
            )
        if prev.size > tree.size:
            raise VerificationError(
                "the log shrank: the previous checkpoint is larger than the bundle's log",
                expected=f"at least {prev.size} entries",
                found=tree.size,
            )
        proof = tree.consistency_proof(prev.size)
        verify_consistency(prev.size, cp.size, proof, prev.root, cp.root)
        return (
            f"size {prev.size} -> {cp.size}: append-only (consistency proof of {len(proof)} hashes)"
        )

    run("log.consistency", consistency_check)

    # Witness-timed anchors: (tree size, witness, cosignature time) from every trusted
    # cosignature on the final and the earlier checkpoints.
    anchors: list[tuple[int, str, int]] = []
    try:
        for c in verify_cosignatures(bundle.checkpoint, roots.witness_keys(origin), now=now):
            anchors.append((total, c.name, c.timestamp))
    except AuditError:
        pass  # already reported by log.cosignatures

    def earlier_check() -> str:
        problems: list[str] = []
        for size, text in sorted(bundle.checkpoints.items()):
            try:
                ecp = verify_checkpoint(text, log_keys)
                if ecp.origin != origin:
                    raise VerificationError("origin", expected=origin, found=ecp.origin)
                if ecp.size != size or size > total:
                    raise VerificationError("size", expected=size, found=ecp.size)
                final = cp_holder[0] if cp_holder else None
                if final is None:
                    raise VerificationError("the final checkpoint is unreadable")
                proof = tree.consistency_proof(size)
                verify_consistency(size, final.size, proof, ecp.root, final.root)
                for c in verify_cosignatures(text, roots.witness_keys(origin), now=now):
                    anchors.append((size, c.name, c.timestamp))
            except (VerificationError, AuditError) as exc:
                problems.append(f"log/checkpoints/{size}: {exc}")
        if problems:
            raise VerificationError(_summarise(problems))
        sizes = ", ".join(str(n) for n in sorted(bundle.checkpoints))
        return f"earlier checkpoint(s) of size {sizes} signed and consistent with the final one"

    if bundle.checkpoints:
        run("log.checkpoints", earlier_check)
    del signed_ok
    return entries, anchors


@dataclass(slots=True)
class _Draw:
    """What the transcript checks learn, passed from one check to the next."""

    roster: LogEntry | None = None
    commits: list[LogEntry] = field(default_factory=list)
    reveals: list[LogEntry] = field(default_factory=list)
    beacon: LogEntry | None = None
    seed: LogEntry | None = None
    result: LogEntry | None = None
    witness_keys: dict[str, str] = field(default_factory=dict)  # key id -> vkey
    commit_notes: dict[str, drawmod.WitnessNote] = field(default_factory=dict)
    reveal_notes: dict[str, drawmod.WitnessNote] = field(default_factory=dict)
    valid_reveals: dict[str, bytes] = field(default_factory=dict)
    beacon_value: bytes | None = None


_BODY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "draw.roster": (
        "draw",
        "instance_sha256",
        "mechanism",
        "tie_breaking",
        "group_policy",
        "applicants",
        "schools",
        "beacon",
        "witnesses",
        "min_reveals",
    ),
    "draw.commit": ("draw", "witness", "note"),
    "draw.reveal": ("draw", "witness", "note"),
    "draw.beacon": ("draw", "evidence", "value"),
    "draw.seed": ("draw", "seed", "revealed", "missing"),
    "draw.result": ("draw", "result_sha256", "instance_sha256", "applicants", "placed", "counts"),
}


def _verify_draw(
    report: Report,
    draw_id: str,
    entries: list[LogEntry],
    bundle: Bundle,
    roots: TrustRoots,
    beacon_mod: ModuleType | None,
    engine: _Recomputation | None,
    anchors: Sequence[tuple[int, str, int]] = (),
) -> None:
    run = CheckRunner(report)
    d = _Draw()
    prefix = f"draw[{draw_id}]"
    files = bundle.draws.get(draw_id)

    def transcript() -> str:
        kinds = [e.kind for e in entries]
        if not kinds:
            raise VerificationError(f"the log has no entries for draw {draw_id}")
        for e in entries:
            drawmod.require_fields(
                e.body, _BODY_FIELDS.get(e.kind, ()), f"entry {e.seq} ({e.kind})"
            )
        pos = 0

        def take(kind: str, many: bool) -> list[LogEntry]:
            nonlocal pos
            got: list[LogEntry] = []
            while pos < len(entries) and entries[pos].kind == kind:
                got.append(entries[pos])
                pos += 1
                if not many:
                    break
            return got

        expected = "roster, commit (one or more), reveal (any), beacon, seed, result"
        rosters = take("draw.roster", False)
        commits = take("draw.commit", True)
        reveals = take("draw.reveal", True)
        beacons = take("draw.beacon", False)
        seeds = take("draw.seed", False)
        results = take("draw.result", False)
        if pos != len(entries) or not (rosters and commits and beacons and seeds and results):
            where = entries[pos] if pos < len(entries) else None
            found = ", ".join(k.removeprefix("draw.") for k in kinds)
            raise VerificationError(
                "draw entries are not in the required order"
                + (
                    f" (entry {where.seq} {where.kind} is out of place)"
                    if where
                    else " (some are missing)"
                ),
                expected=expected,
                found=found,
            )
        d.roster, d.commits, d.reveals = rosters[0], commits, reveals
        d.beacon, d.seed, d.result = beacons[0], seeds[0], results[0]
        return (
            f"entries {d.roster.seq}..{d.result.seq}: roster, {len(commits)} commit(s), "
            f"{len(reveals)} reveal(s), beacon, seed, result"
        )

    if not run(f"{prefix}.transcript", transcript):
        for name in (
            "witnesses",
            "reveals",
            "beacon",
            "timing",
            "seed",
            "instance",
            "result-entry",
            "recompute",
        ):
            report.add(f"{prefix}.{name}", "not performed", "the transcript is unusable")
        return
    assert (
        d.roster is not None
        and d.beacon is not None
        and d.seed is not None
        and d.result is not None
    )
    roster = d.roster.body
    roster_digest_hex = str(roster.get("instance_sha256"))

    def witnesses() -> str:
        problems: list[str] = []
        wl = roster.get("witnesses")
        if not isinstance(wl, list) or not wl:
            raise VerificationError("draw.roster has no witness keys")
        for vkey in wl:
            key = note.parse_verifier_key(str(vkey))
            kid = f"{key.key_id:08x}"
            d.witness_keys[kid] = key.text
            if not roots.trusts(key.text):
                problems.append(
                    f"witness key {key.name}+{kid} in the roster is not among the trusted keys"
                )
        drawmod.parse_body_hex(
            roster, "instance_sha256", f"entry {d.roster.seq if d.roster else '?'}"
        )
        for kind, items, notes in (
            ("commit", d.commits, d.commit_notes),
            ("reveal", d.reveals, d.reveal_notes),
        ):
            for e in items:
                kid = str(e.body.get("witness"))
                vkey = d.witness_keys.get(kid)
                if vkey is None:
                    problems.append(
                        f"entry {e.seq}: {kind} by {kid}, who is not a witness of the roster"
                    )
                    continue
                if kid in notes:
                    problems.append(f"entry {e.seq}: second {kind} by witness {kid}")
                    continue
                try:
                    wn = drawmod.parse_witness_note(str(e.body.get("note")), vkey, kind=kind)
                except VerificationError as exc:
                    problems.append(f"entry {e.seq}: {kind} note of witness {kid}: {exc}")
                    continue
                if wn.draw != draw_id or wn.roster.hex() != roster_digest_hex:
                    problems.append(
                        f"entry {e.seq}: {kind} note of witness {kid} is for draw {wn.draw} roster "
                        f"{wn.roster.hex()[:16]}..., not this draw's roster "
                        f"{roster_digest_hex[:16]}..."
                    )
                    continue
                notes[kid] = wn
        for kid in d.reveal_notes:
            if kid not in d.commit_notes:
                problems.append(f"witness {kid} revealed without a valid commitment")
        if problems:
            raise VerificationError(_summarise(problems))
        return (
            f"{len(d.witness_keys)} trusted witness(es); {len(d.commit_notes)} commit and "
            f"{len(d.reveal_notes)} reveal note(s) signed"
        )

    witnesses_ok = run(f"{prefix}.witnesses", witnesses)

    def reveals() -> str:
        if not witnesses_ok:
            raise NotPerformed("the witness notes could not be checked")
        left_out: list[str] = []
        for kid, rn in sorted(d.reveal_notes.items()):
            try:
                drawmod.verify_reveal_matches(d.commit_notes[kid], rn)
            except VerificationError as exc:
                left_out.append(str(exc))
                continue
            d.valid_reveals[kid] = rn.value
        minimum = roster.get("min_reveals")
        if not isinstance(minimum, int) or len(d.valid_reveals) < minimum:
            raise VerificationError(
                "fewer valid reveals than the roster's minimum: "
                "the draw must fail, never be re-rolled",
                expected=f"at least {minimum}",
                found=len(d.valid_reveals),
            )
        missing = sorted(set(d.commit_notes) - set(d.valid_reveals))
        detail = f"{len(d.valid_reveals)} valid reveal(s), minimum {minimum}"
        if missing:
            detail += f"; left out by the pre-announced rule: {', '.join(missing)}"
        if left_out:
            detail += f" ({_summarise(left_out)})"
        return detail

    reveals_ok = run(f"{prefix}.reveals", reveals)

    announced = roster.get("beacon")
    evidence = d.beacon.body.get("evidence")

    def beacon_check() -> str:
        if beacon_mod is None:
            raise NotPerformed("audit.beacon is not available in this installation")
        if not isinstance(announced, Mapping) or not isinstance(evidence, Mapping):
            raise VerificationError("draw.roster beacon and draw.beacon evidence must be objects")
        beacon_mod.check_announced(announced, evidence)
        value = beacon_mod.beacon_value(evidence)
        if not isinstance(value, bytes):
            raise VerificationError("audit.beacon returned no bytes")
        logged = str(d.beacon.body.get("value")) if d.beacon else ""
        if value.hex() != logged:
            raise VerificationError(
                "beacon value in draw.beacon is not the one the evidence gives",
                expected=value.hex(),
                found=logged,
            )
        d.beacon_value = value
        summary = f"{evidence.get('source')} as fixed in the roster; value {value.hex()[:32]}..."
        if evidence.get("source") == beacon_mod.SOURCE_CWL:
            # Welfare-lottery numbers carry no signature: only their form and the announcement
            # are checked here; say so rather than let "passed" suggest more.
            summary += (
                "; the numbers' form was checked, not their authenticity: compare them with the"
                " issuer's announcement of that draw"
            )
        return summary

    beacon_ok = run(f"{prefix}.beacon", beacon_check)

    def timing() -> str:
        if beacon_mod is None:
            raise NotPerformed("audit.beacon is not available in this installation")
        if not isinstance(announced, Mapping):
            raise VerificationError("draw.roster beacon must be an object")
        published = beacon_mod.beacon_publication_time(announced)
        if published is None:
            date = announced.get("draw_date")
            if not isinstance(date, str):
                raise NotPerformed(
                    "the announced beacon has no publication time that can be checked offline"
                )
            # The issuer's draw happens in the evening of draw_date, China time (UTC+8): the
            # conservative bound is the start of that day there.
            published = (
                int(datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()) - 8 * 3600
            )
        late = [
            f"entry {e.seq} ({e.kind}) at {e.time}"
            for e in [d.roster, *d.commits, *d.reveals]
            if e is not None and _unix(e.time) >= published
        ]
        when = datetime.fromtimestamp(published, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if late:
            raise VerificationError(
                f"logged at or after the beacon could be known ({when}): " + _summarise(late)
            )
        last = max(e.seq for e in [d.roster, *d.commits, *d.reveals] if e is not None)
        witnessed = sorted(
            (t, name, size) for size, name, t in anchors if size > last and t < published
        )
        if witnessed:
            t, name, size = witnessed[0]
            stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return (
                f"roster, commitments and reveals logged before {when}; witnessed: {name} "
                f"cosigned a checkpoint of size {size} (covering entry {last}) at {stamp}"
            )
        return (
            f"roster, commitments and reveals logged before {when} (by the log's own times; "
            "no witness cosignature before then covers the reveals)"
        )

    run(f"{prefix}.timing", timing)

    seed_body = d.seed.body
    seed_hex = str(seed_body.get("seed"))

    def seed_check() -> str:
        if not reveals_ok:
            raise NotPerformed("the reveals could not be established")
        value_hex = str(d.beacon.body.get("value")) if d.beacon else ""
        try:
            value = bytes.fromhex(value_hex)
        except ValueError:
            raise VerificationError(f"draw.beacon value {value_hex[:20]!r} is not hex") from None
        digest = drawmod.parse_body_hex(roster, "instance_sha256", "draw.roster")
        seed = drawmod.derive_seed(digest, value, sorted(d.valid_reveals.items()))
        if seed.hex() != seed_hex:
            raise VerificationError(
                "the logged seed is not HKDF-Extract(roster digest, beacon and reveals)",
                expected=seed.hex(),
                found=seed_hex,
            )
        want_revealed = sorted(d.valid_reveals)
        want_missing = sorted(set(d.commit_notes) - set(d.valid_reveals))
        if seed_body.get("revealed") != want_revealed or seed_body.get("missing") != want_missing:
            raise VerificationError(
                "draw.seed lists the wrong witnesses",
                expected=f"revealed {want_revealed}, missing {want_missing}",
                found=f"revealed {seed_body.get('revealed')}, missing {seed_body.get('missing')}",
            )
        qualifier = (
            "" if beacon_ok else " (beacon value as logged; the beacon itself was not verified)"
        )
        return f"seed {seed.hex()} recomputed from {len(want_revealed)} reveal(s){qualifier}"

    run(f"{prefix}.seed", seed_check)

    # The lottery engine runs once per draw; the instance check reads what it reports and the
    # recompute check compares its output with result.json.
    engine_out: list[bytes | str] = []

    def recomputed() -> bytes:
        """lottery.run(instance.json), memoised; VerificationError if the engine rejects it."""
        assert engine is not None and files is not None
        if not engine_out:
            try:
                engine_out.append(engine.run(files.instance))
            except Exception as exc:
                # The engine's own error names the field (lottery.InvalidInstance).
                engine_out.append(f"the lottery engine rejects instance.json: {exc}")
        got = engine_out[0]
        if isinstance(got, str):
            raise VerificationError(got)
        return got

    def engine_result() -> bytes | None:
        """What :func:`recomputed` returns; None without an engine, files, or when it rejects."""
        if engine is None or files is None:
            return None
        try:
            return recomputed()
        except VerificationError:
            return None

    def instance_check() -> str:
        if files is None:
            raise VerificationError(f"draws/{draw_id}/instance.json or result.json is missing")
        # Read off the bytes when the engine's instance_sha256 proves them canonical
        # (drawmod.read_canonical_instance); otherwise parse them (the definition).
        got = engine_result()
        engine_sha = drawmod.result_instance_sha256(got) if got is not None else None
        read = None
        if engine_sha is not None:
            read = drawmod.read_canonical_instance(files.instance, engine_sha)
        inst, raw_digest = read if read is not None else drawmod.read_instance(files.instance)
        digest = raw_digest.hex()
        if digest != roster_digest_hex:
            raise VerificationError(
                "instance.json (without seed) is not the roster frozen in draw.roster",
                expected=roster_digest_hex,
                found=digest,
            )
        if inst.get("seed") != seed_hex:
            raise VerificationError(
                "instance.json's seed is not the logged seed",
                expected=seed_hex,
                found=inst.get("seed"),
            )
        for f in ("mechanism", "tie_breaking", "group_policy"):
            if inst.get(f) != roster.get(f):
                raise VerificationError(
                    f"instance.json {f} differs from draw.roster",
                    expected=roster.get(f),
                    found=inst.get(f),
                )
        return f"digest without seed {digest[:16]}... and seed match the log"

    run(f"{prefix}.instance", instance_check)

    def result_entry() -> str:
        if files is None:
            raise VerificationError(f"draws/{draw_id}/result.json is missing")
        # Bytes equal to the engine's own output have its documented shape: counted off the
        # bytes (drawmod.engine_result_body); otherwise parsed (the definition).
        engine_made = engine_result() == files.result
        read = drawmod.engine_result_body if engine_made else drawmod.result_body
        body = read(draw_id, files.result)
        logged = d.result.body if d.result else {}
        for f in ("result_sha256", "instance_sha256", "applicants", "placed", "counts"):
            if body[f] != logged.get(f):
                raise VerificationError(
                    f"result.json does not match draw.result's {f}",
                    expected=logged.get(f),
                    found=body[f],
                )
        return f"SHA-256 {body['result_sha256']}; {body['placed']} of {body['applicants']} placed"

    run(f"{prefix}.result-entry", result_entry)

    def recompute() -> str:
        if engine is None:
            raise NotPerformed("the lottery engine (package lottery) is not available")
        if files is None:
            raise VerificationError(f"draws/{draw_id} files are missing")
        got = recomputed()
        if got != files.result:
            pos = next(
                (i for i, (a, b) in enumerate(zip(got, files.result, strict=False)) if a != b),
                min(len(got), len(files.result)),
            )
            raise VerificationError(
                f"recomputed result differs from result.json at byte {pos}",
                expected=got[max(0, pos - 20) : pos + 20].decode("utf-8", "replace"),
                found=files.result[max(0, pos - 20) : pos + 20].decode("utf-8", "replace"),
            )
        return f"lottery engine reproduces result.json byte for byte ({len(got)} bytes)"

    run(f"{prefix}.recompute", recompute)


_MARK = {"passed": "✔", "failed": "✘", "not performed": "–"}


def render_text(report: Report) -> str:
    """A plain-text summary for a person: one line per check, then the verdict."""
    width = max((len(c.name) for c in report.checks), default=10)
    lines = [f"paiwei-audit: {report.subject}"]
    for c in report.checks:
        lines.append(
            f"  {_MARK[c.status]} {c.name.ljust(width)}  {c.status.upper():<13} {c.detail}"
        )
    lines.append(_verdict_sentence(report))
    return "\n".join(lines) + "\n"


def _verdict_sentence(report: Report) -> str:
    n = len(report.checks)
    failed = sum(c.status == "failed" for c in report.checks)
    skipped = sum(c.status == "not performed" for c in report.checks)
    if report.verdict == "VALID":
        return f"VALID: all {n} checks passed."
    if report.verdict == "INVALID":
        return f"INVALID: {failed} of {n} checks failed" + (
            f", {skipped} not performed." if skipped else "."
        )
    return (
        f"INCOMPLETE: no check failed, but {skipped} of {n} were not performed; "
        "this is not a verification."
    )


def render_html(report: Report, *, generated: str) -> str:
    """A printable, self-contained HTML report (no scripts, no external resources)."""
    esc = html.escape
    rows = "\n".join(
        f'<tr class="{c.status.replace(" ", "-")}"><td>{_MARK[c.status]}</td>'
        f"<td><code>{esc(c.name)}</code></td>"
        f"<td>{esc(c.status)}</td><td>{esc(c.detail)}</td></tr>"
        for c in report.checks
    )
    facts = "\n".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in report.facts.items()
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>paiwei-audit report — {esc(report.subject)}</title>
<style>
body {{ font-family: "Noto Serif CJK SC", "Songti SC", serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #888; padding: 4px 6px; vertical-align: top; text-align: left; }}
tr.failed td {{ background: #fdd; }} tr.not-performed td {{ background: #eee; }}
.verdict {{ font-size: 1.4em; font-weight: bold; margin: 1em 0; }}
@media print {{ body {{ margin: 1cm; }} }}
</style></head><body>
<h1>派位公证核验报告 / Lottery verification report</h1>
<p>Bundle: <code>{esc(report.subject)}</code><br>Generated: {esc(generated)} by paiwei-audit</p>
<table>{facts}</table>
<p class="verdict">{esc(_verdict_sentence(report))}</p>
<table><tr><th></th><th>Check</th><th>Status</th><th>Detail</th></tr>
{rows}
</table>
<p>Signature of the notary / 公证员签字: ______________________ &nbsp; Date / 日期: ____________</p>
</body></html>
"""
