"""``paiwei-audit`` (also ``python -m audit``): the notary's and the family's offline tool.

This is the edge of the pure audit core: it reads files, the clock and the OS random source,
and prints. Commands (docs/notary-guide.md):

- ``keygen NAME``          write NAME's Ed25519 signer key (mode 0600) and verifier key
- ``verify BUNDLE --trust VKEY...``   every check of a publication bundle, by name
- ``cosign CHECKPOINT --key SKEY --state DIR``   a witness cosignature, append-only enforced
- ``commit`` / ``reveal``  a draw witness's secret, signed commitment and reveal notes
- ``receipt RECEIPT --bundle BUNDLE``   a family checks its registration is published

Exit codes: 0 success (for verify/receipt: every check passed); 1 a check failed or was not
performed, or cosign refused; 2 unusable input (missing file, malformed key, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from audit import note
from audit.bundle import BundleError
from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.cosignature import add_cosignature, cosigner_vkey
from audit.draw import check_draw_id, commit_note, reveal_note
from audit.errors import AuditError, KeyFormatError, MalformedError, VerificationError
from audit.log import parse_entry
from audit.merkle import CompactRange, consistency_proof, leaf_hash, verify_consistency
from audit.verify import Progress, Report, render_html, render_text, verify_bundle

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Unusable input: reported on one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="paiwei-audit", description="Verify paiwei lottery publications offline.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    k = sub.add_parser("keygen", help="make an Ed25519 key pair (Go sumdb/note text format)")
    k.add_argument("name", help="key name, e.g. notary.example.cn/zhang (no spaces, no '+')")
    k.add_argument("--out", help="file prefix (default: the name with '/' as '_')")

    v = sub.add_parser("verify", help="verify a publication bundle")
    v.add_argument("bundle")
    v.add_argument(
        "--trust",
        nargs="+",
        required=True,
        metavar="VKEY",
        help="trusted verifier keys, or files holding them one per line",
    )
    v.add_argument(
        "--witnesses",
        type=int,
        default=0,
        metavar="K",
        help="require at least K cosignatures by trusted witnesses",
    )
    v.add_argument(
        "--previous", metavar="CHECKPOINT", help="a checkpoint seen earlier; the log must extend it"
    )
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--html", metavar="FILE", help="also write a printable HTML report")
    v.add_argument(
        "--now",
        type=int,
        metavar="UNIX",
        help="reject cosignatures dated after this time (default: the clock)",
    )

    c = sub.add_parser("cosign", help="cosign a checkpoint as a witness (notary)")
    c.add_argument("checkpoint")
    c.add_argument("--key", required=True, metavar="SKEY", help="the notary's signer key file")
    c.add_argument("--state", required=True, metavar="DIR", help="the notary's state directory")
    c.add_argument(
        "--entries",
        metavar="ENTRIES",
        help="the log's entries.jsonl, to prove consistency with the last checkpoint",
    )
    c.add_argument(
        "--log-key",
        metavar="VKEY",
        help="the log's verifier key (pinned in the state on first use)",
    )
    c.add_argument("--time", type=int, metavar="UNIX", help="cosignature time (default: now)")
    c.add_argument("-o", "--output", metavar="FILE", help="write the cosigned checkpoint here")

    for name, help_ in (
        ("commit", "make a secret and its signed commitment"),
        ("reveal", "sign the reveal of a committed secret"),
    ):
        w = sub.add_parser(name, help=help_)
        w.add_argument("--key", required=True, metavar="SKEY", help="the witness's signer key file")
        w.add_argument("--draw", required=True, help="draw id, as in draw.roster")
        w.add_argument(
            "--roster",
            required=True,
            metavar="HEX",
            help="instance_sha256 of the draw.roster entry",
        )
        if name == "commit":
            w.add_argument(
                "--secret-out",
                required=True,
                metavar="FILE",
                help="where to keep the secret (mode 0600; must not exist)",
            )
        else:
            w.add_argument("--secret", required=True, metavar="FILE", help="the secret file")
        w.add_argument("-o", "--output", metavar="FILE", help="write the note here")

    r = sub.add_parser("receipt", help="check a registration receipt against a bundle")
    r.add_argument("receipt")
    r.add_argument("--bundle", required=True)
    r.add_argument(
        "--trust",
        nargs="+",
        default=[],
        metavar="VKEY",
        help="the log's verification key, obtained independently of the bundle; without it the"
        " key is read from the bundle and the verdict can only be INCOMPLETE",
    )
    r.add_argument("--salt", metavar="HEX", help="the salt on the family's receipt")
    r.add_argument("--record", metavar="FILE", help="the personal record (JSON) as registered")
    r.add_argument("--json", action="store_true")
    return p


# --------------------------------------------------------------------------------------------
# helpers


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what}: file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc}") from None


def _trust_list(items: Sequence[str]) -> list[str]:
    keys: list[str] = []
    for item in items:
        if os.path.isfile(item):
            keys.extend(ln.strip() for ln in _read_text(item, "--trust").splitlines() if ln.strip())
        elif "+" in item:
            keys.append(item.strip())
        else:
            raise UsageError(f"--trust: {item} is neither a key file nor a verifier key")
    for k in keys:
        note.parse_verifier_key(k)
    return keys


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, object] = {}

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=max(total, 1))
            bar.update(tasks[description], completed=done, total=max(total, 1))  # type: ignore[arg-type]

        yield update


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        colour = {"passed": "green", "failed": "red", "not performed": "yellow"}
        table = Table(title=f"paiwei-audit: {report.subject}", show_lines=False)
        for col in ("", "check", "status", "detail"):
            table.add_column(col, overflow="fold")
        for c in report.checks:
            mark = {"passed": "✔", "failed": "✘", "not performed": "–"}[c.status]
            # Names like draw[<id>] would otherwise be read as rich markup.
            table.add_row(
                mark, escape(c.name), f"[{colour[c.status]}]{c.status}[/]", escape(c.detail)
            )
        console = Console()
        console.print(table)
        console.print(
            render_text(report).splitlines()[-1], style="bold", markup=False, highlight=False
        )
    else:
        sys.stdout.write(render_text(report))


# --------------------------------------------------------------------------------------------
# commands


def _keygen(args: argparse.Namespace) -> int:
    skey, vkey = note.generate_key(args.name)
    prefix = Path(args.out or args.name.replace("/", "_"))
    skey_path, vkey_path = Path(f"{prefix}.skey"), Path(f"{prefix}.vkey")
    if skey_path.exists() or vkey_path.exists():
        raise UsageError(f"keygen: {skey_path} or {vkey_path} already exists; not overwriting")
    _write_private(skey_path, skey + "\n")
    vkey_path.write_text(vkey + "\n", encoding="utf-8")
    print(f"signer key   {skey_path} (mode 0600, keep it secret)")
    print(f"verifier key {vkey_path}: {vkey}")
    print(f"as cosigner  {cosigner_vkey(vkey)}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    trust = _trust_list(args.trust)
    previous = _read_text(args.previous, "--previous") if args.previous else None
    if args.witnesses < 0:
        raise UsageError("--witnesses must be >= 0")
    now = args.now if args.now is not None else int(time.time())
    with _progress(not args.json) as progress:
        report = verify_bundle(
            args.bundle,
            trust,
            witnesses=args.witnesses,
            previous=previous,
            now=now,
            progress=progress,
        )
    _print_report(report, args.json)
    if args.html:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        Path(args.html).write_text(render_html(report, generated=stamp), encoding="utf-8")
    return report.exit_code


def _cosign(args: argparse.Namespace) -> int:
    skey = _read_text(args.key, "--key").strip()
    note.parse_signer_key(skey)
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    pinned = state / "log.vkey"
    if pinned.exists():
        log_vkey = pinned.read_text(encoding="utf-8").strip()
        if args.log_key and _key_arg(args.log_key) != log_vkey:
            raise UsageError(f"--log-key differs from the key pinned in {pinned}")
    elif args.log_key:
        log_vkey = _key_arg(args.log_key)
    else:
        raise UsageError(f"no log key pinned in {state}; give --log-key on first use")
    signed = _read_text(args.checkpoint, "CHECKPOINT")
    new = verify_checkpoint(signed, [log_vkey])
    last_path = state / "checkpoint"
    detail = "first checkpoint cosigned with this state"
    entries_root: CompactRange | None = None
    leaves: list[bytes] = []
    if args.entries:
        entries_root = CompactRange()
        for seq, line in enumerate(Path(args.entries).read_bytes().splitlines()):
            parse_entry(line, expected_seq=seq)
            h = leaf_hash(line)
            leaves.append(h)
            entries_root.append(h)
        if entries_root.size != new.size or entries_root.root() != new.root:
            raise VerificationError(
                "the entries do not match the checkpoint",
                expected=f"size {new.size} root {new.root.hex()}",
                found=f"size {entries_root.size} root {entries_root.root().hex()}",
            )
    if last_path.exists():
        old = verify_checkpoint(last_path.read_text(encoding="utf-8"), [log_vkey])
        _check_extends(old, new, leaves if entries_root is not None else None)
        detail = f"extends the last cosigned checkpoint (size {old.size} -> {new.size})"
    timestamp = args.time if args.time is not None else int(time.time())
    cosigned = add_cosignature(signed, skey, timestamp)
    # Persist the new state before releasing the cosignature (never sign, then forget).
    tmp = state / "checkpoint.tmp"
    tmp.write_text(cosigned, encoding="utf-8", newline="")
    os.replace(tmp, last_path)
    if not pinned.exists():
        pinned.write_text(log_vkey + "\n", encoding="utf-8")
    with open(state / "history.log", "a", encoding="utf-8") as f:
        f.write(f"{timestamp} {new.origin} {new.size} {new.root.hex()}\n")
    _emit(cosigned, args.output)
    print(f"cosigned {new.origin} size {new.size}: {detail}", file=sys.stderr)
    return EXIT_OK


def _key_arg(value: str) -> str:
    text = _read_text(value, "--log-key").strip() if os.path.isfile(value) else value.strip()
    return note.parse_verifier_key(text).text


def _check_extends(old: Checkpoint, new: Checkpoint, leaves: list[bytes] | None) -> None:
    """Refuse a checkpoint that is not provably an append-only extension of ``old``."""
    if old.origin != new.origin:
        raise VerificationError(
            "checkpoint is for another log", expected=old.origin, found=new.origin
        )
    if new.size < old.size:
        raise VerificationError(
            "refusing: the log would shrink", expected=f"size >= {old.size}", found=new.size
        )
    if new.size == old.size:
        if new.root != old.root:
            raise VerificationError(
                "refusing: two different roots for the same size (a fork)",
                expected=old.root,
                found=new.root,
            )
        return
    if leaves is None:
        raise VerificationError(
            f"refusing: cannot prove size {old.size} -> {new.size} is append-only without --entries"
        )
    proof = consistency_proof(leaves, old.size)
    verify_consistency(old.size, new.size, proof, old.root, new.root)


def _witness_note(args: argparse.Namespace) -> int:
    skey = _read_text(args.key, "--key").strip()
    check_draw_id(args.draw)
    try:
        roster = bytes.fromhex(args.roster)
    except ValueError:
        raise UsageError("--roster must be 64 hex digits") from None
    if len(roster) != 32:
        raise UsageError("--roster must be 64 hex digits (32 bytes)")
    if args.command == "commit":
        out = Path(args.secret_out)
        if out.exists():
            raise UsageError(f"--secret-out: {out} exists; not overwriting a secret")
        secret = os.urandom(32)
        text = commit_note(args.draw, roster, secret, skey)
        _write_private(out, secret.hex() + "\n")
    else:
        try:
            secret = bytes.fromhex(_read_text(args.secret, "--secret").strip())
        except ValueError:
            raise UsageError("--secret: the file must hold 64 hex digits") from None
        text = reveal_note(args.draw, roster, secret, skey)
    _emit(text, args.output)
    return EXIT_OK


def _receipt(args: argparse.Namespace) -> int:
    from audit.receipt import verify_receipt

    trust = _trust_list(args.trust) if args.trust else []
    salt = record = None
    if args.salt is not None:
        try:
            salt = bytes.fromhex(args.salt)
        except ValueError:
            raise UsageError("--salt must be hex") from None
    if args.record is not None:
        try:
            record = json.loads(_read_text(args.record, "--record"))
        except ValueError as exc:
            raise UsageError(f"--record: not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise UsageError("--record: must be a JSON object")
    report = verify_receipt(
        _read_text(args.receipt, "RECEIPT"), args.bundle, trust, salt=salt, record=record
    )
    _print_report(report, args.json)
    return report.exit_code


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "keygen": _keygen,
    "verify": _verify,
    "cosign": _cosign,
    "commit": _witness_note,
    "reveal": _witness_note,
    "receipt": _receipt,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 failed/refused, 2 unusable input)."""
    try:
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"paiwei-audit: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except (BundleError, KeyFormatError) as exc:
        print(f"paiwei-audit: unusable input: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except VerificationError as exc:
        # Only cosign/commit/reveal get here: verify and receipt report checks instead.
        kind = "unusable input" if isinstance(exc, MalformedError) else "refused"
        print(f"paiwei-audit: {kind}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE if isinstance(exc, MalformedError) else EXIT_FAILED
    except AuditError as exc:
        print(f"paiwei-audit: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OSError as exc:
        print(f"paiwei-audit: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
