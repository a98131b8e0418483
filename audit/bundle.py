"""The publication bundle (paiwei-bundle/1): everything a notary needs, in one directory.

Layout (normative text: docs/log-format.md §Bundle)::

    manifest.json                 RFC 8785 JSON + "\\n": format, origin, log size, root, draws
    log/entries.jsonl             entry i on line i (RFC 8785 bytes, each line ends "\\n")
    log/checkpoint                the signed checkpoint of the whole log, with cosignatures
    log/checkpoints/<size>        optional earlier cosigned checkpoints (e.g. right after the
                                  reveals): witness-timed anchors for the timing check
    draws/<draw id>/instance.json the lottery instance (with its seed) exactly as drawn
    draws/<draw id>/result.json   the lottery result exactly as ``python -m lottery run`` wrote it
    keys/log.vkey                 the log's verifier key (one line)
    keys/witnesses.vkeys          witnesses' and notaries' verifier keys, one per line

The keys in a bundle are for convenience only: a verifier pins its trust roots out of band
(``paiwei-audit verify --trust``).

:func:`write_bundle` is the one writer (used by the service and the test fixtures); it checks
what it writes -- the checkpoint must be signed by the log key and match the entries' tree --
so a bundle that does not verify is never produced by mistake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import note
from audit._canon import canonical_json
from audit.checkpoint import verify_checkpoint
from audit.draw import check_draw_id
from audit.errors import AuditError, MalformedError
from audit.merkle import CompactRange, leaf_hash

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "BundleError",
    "DrawFiles",
    "read_bundle",
    "write_bundle",
]

BUNDLE_FORMAT = "paiwei-bundle/1"


class BundleError(AuditError):
    """The bundle cannot be read at all (missing files, unreadable manifest): unusable input."""


@dataclass(frozen=True, slots=True)
class DrawFiles:
    """The two files of one draw, as exact bytes."""

    instance: bytes
    result: bytes


def write_bundle(
    directory: str | os.PathLike[str],
    *,
    origin: str,
    entries: Sequence[bytes],
    checkpoint: str,
    draws: Mapping[str, DrawFiles],
    log_vkey: str,
    witness_vkeys: Sequence[str] = (),
    checkpoints: Sequence[str] = (),
) -> Path:
    """Write a publication bundle into ``directory`` (created; must not exist or be empty).

    ``entries`` are the log's entry bytes in seq order (``audit.log.entry_bytes``);
    ``checkpoint`` the signed (and possibly cosigned) checkpoint note for exactly these entries;
    ``draws`` maps draw id -> :class:`DrawFiles`; each draw id must have a ``draw.roster`` and a
    ``draw.result`` entry in the log. Raises :class:`audit.errors.MalformedError` if the inputs
    are inconsistent. ``checkpoints`` are earlier signed (and cosigned) checkpoints of this log,
    each of a prefix of ``entries``; they are published as ``log/checkpoints/<size>`` so a
    verifier can show, with the witnesses' cosignature times, that the reveals were logged
    before the beacon was known. Returns the bundle's path.
    """
    out = Path(directory)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"bundle directory {out} exists and is not empty")
    cp = verify_checkpoint(checkpoint, [log_vkey])
    if cp.origin != origin:
        raise MalformedError(
            "checkpoint origin differs from the bundle's", expected=origin, found=cp.origin
        )
    earlier = {}
    for text in checkpoints:
        ecp = verify_checkpoint(text, [log_vkey])
        if ecp.origin != origin or ecp.size > len(entries):
            raise MalformedError(f"earlier checkpoint of size {ecp.size} is not of this log")
        earlier[ecp.size] = (ecp, text)
    tree = CompactRange()
    lines: list[bytes] = []
    draw_seqs: dict[str, dict[str, int]] = {}
    for seq, raw in enumerate(entries):
        if b"\n" in raw:
            raise MalformedError(f"entry {seq} contains a newline; entries are canonical JSON")
        tree.append(leaf_hash(raw))
        lines.append(raw)
        if tree.size in earlier and earlier[tree.size][0].root != tree.root():
            raise MalformedError(
                f"earlier checkpoint of size {tree.size} does not match the entries"
            )
        # Index draw.roster / draw.result positions for the manifest.
        if raw.find(b'"kind":"draw.') >= 0:
            value = json.loads(raw)
            kind, body = value.get("kind"), value.get("body", {})
            if kind in ("draw.roster", "draw.result") and isinstance(body, dict):
                draw_seqs.setdefault(str(body.get("draw")), {})[kind.split(".")[1] + "_seq"] = seq
    if tree.size != cp.size or tree.root() != cp.root:
        raise MalformedError(
            "checkpoint does not match the entries",
            expected=f"size {tree.size} root {tree.root().hex()}",
            found=f"size {cp.size} root {cp.root.hex()}",
        )
    manifest_draws: list[dict[str, Any]] = []
    for draw_id in sorted(draws):
        check_draw_id(draw_id)
        seqs = draw_seqs.get(draw_id, {})
        if "roster_seq" not in seqs or "result_seq" not in seqs:
            raise MalformedError(
                f"draw {draw_id}: the log has no draw.roster and draw.result for it"
            )
        manifest_draws.append({"id": draw_id, **seqs})
    for w in witness_vkeys:
        note.parse_verifier_key(w)
    note.parse_verifier_key(log_vkey)
    manifest = {
        "format": BUNDLE_FORMAT,
        "origin": origin,
        "log_size": tree.size,
        "root": tree.root().hex(),
        "draws": manifest_draws,
        "checkpoints": sorted(earlier),
    }
    (out / "log").mkdir(parents=True, exist_ok=True)
    (out / "keys").mkdir(exist_ok=True)
    with open(out / "log" / "entries.jsonl", "wb") as f:
        for raw in lines:
            f.write(raw)
            f.write(b"\n")
    (out / "log" / "checkpoint").write_text(checkpoint, encoding="utf-8", newline="")
    if earlier:
        (out / "log" / "checkpoints").mkdir()
        for size, (_, text) in sorted(earlier.items()):
            (out / "log" / "checkpoints" / str(size)).write_text(text, encoding="utf-8", newline="")
    for draw_id in sorted(draws):
        d = out / "draws" / draw_id
        d.mkdir(parents=True)
        (d / "instance.json").write_bytes(draws[draw_id].instance)
        (d / "result.json").write_bytes(draws[draw_id].result)
    (out / "keys" / "log.vkey").write_text(log_vkey.strip() + "\n", encoding="utf-8")
    (out / "keys" / "witnesses.vkeys").write_text(
        "".join(w.strip() + "\n" for w in witness_vkeys), encoding="utf-8"
    )
    (out / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    return out


@dataclass(slots=True)
class Bundle:
    """A bundle as read from disk: raw bytes, nothing verified yet."""

    path: Path
    manifest: dict[str, Any]
    #: log/entries.jsonl as read, with a final newline added if it lacked one (a problem)
    entries: bytes
    checkpoint: str
    draws: dict[str, DrawFiles] = field(default_factory=dict)
    log_vkey: str | None = None
    witness_vkeys: list[str] = field(default_factory=list)
    checkpoints: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def entry_lines(self) -> list[bytes]:
        """The entries file's lines (entry i is line i), without their newlines."""
        return self.entries.split(b"\n")[:-1] if self.entries else []

    @property
    def entry_count(self) -> int:
        """Number of lines of the entries file."""
        return self.entries.count(b"\n")


def read_bundle(directory: str | os.PathLike[str]) -> Bundle:
    """Read a bundle's files. Missing or unreadable essentials raise :class:`BundleError`.

    Problems that are the bundle's content (a draw listed without its files, an entries file
    without a final newline) are collected in ``Bundle.problems`` for the verifier to report.
    """
    path = Path(directory)
    if not path.is_dir():
        raise BundleError(f"{path} is not a directory")
    try:
        manifest = json.loads((path / "manifest.json").read_bytes())
    except FileNotFoundError:
        raise BundleError(f"{path}: manifest.json is missing") from None
    except ValueError as exc:
        raise BundleError(f"{path}/manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BundleError(f"manifest.json: format must be {BUNDLE_FORMAT!r}, found {found!r}")
    try:
        raw_entries = (path / "log" / "entries.jsonl").read_bytes()
        checkpoint = (path / "log" / "checkpoint").read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise BundleError(f"{path}: {exc.filename} is missing") from None
    except UnicodeDecodeError:
        raise BundleError(f"{path}/log/checkpoint is not UTF-8 text") from None
    problems: list[str] = []
    if raw_entries and not raw_entries.endswith(b"\n"):
        problems.append("log/entries.jsonl does not end with a newline")
        raw_entries += b"\n"
    bundle = Bundle(path, manifest, raw_entries, checkpoint, problems=problems)
    draws = manifest.get("draws")
    if not isinstance(draws, list):
        raise BundleError("manifest.json: 'draws' must be an array")
    for item in draws:
        draw_id = item.get("id") if isinstance(item, dict) else None
        try:
            check_draw_id(draw_id)  # type: ignore[arg-type]
        except MalformedError as exc:
            raise BundleError(f"manifest.json: {exc}") from None
        assert isinstance(draw_id, str)
        d = path / "draws" / draw_id
        try:
            bundle.draws[draw_id] = DrawFiles(
                (d / "instance.json").read_bytes(), (d / "result.json").read_bytes()
            )
        except FileNotFoundError as exc:
            problems.append(f"draw {draw_id}: {Path(exc.filename).name} is missing")
    sizes = manifest.get("checkpoints", [])
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise BundleError("manifest.json: 'checkpoints' must be an array of tree sizes")
    for n in sizes:
        try:
            bundle.checkpoints[n] = (path / "log" / "checkpoints" / str(n)).read_text(
                encoding="utf-8"
            )
        except (FileNotFoundError, UnicodeDecodeError):
            problems.append(f"log/checkpoints/{n} is missing or not UTF-8")
    keys = path / "keys"
    if (keys / "log.vkey").exists():
        bundle.log_vkey = (keys / "log.vkey").read_text(encoding="utf-8").strip() or None
    if (keys / "witnesses.vkeys").exists():
        bundle.witness_vkeys = [
            ln.strip()
            for ln in (keys / "witnesses.vkeys").read_text(encoding="utf-8").splitlines()
            if ln.strip()
        ]
    return bundle
