"""Command line: ``python -m lottery run INSTANCE.json [-o RESULT.json]`` and
``python -m lottery simulate INSTANCE.json --draws N [--json]``.

Exit status: 0 success; 2 invalid input (one line on stderr naming the field); 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from lottery.engine import run_chunks
from lottery.errors import InvalidInstance, LotteryError
from lottery.model import parse_instance
from lottery.simulate import format_table, simulate


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"lottery: {message}\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lottery", description="paiwei-lottery/1 engine")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="draw an instance and write result.json")
    r.add_argument("instance", help="paiwei-instance/1 JSON file ('-' for stdin)")
    r.add_argument("-o", "--output", help="result file (default: stdout)")
    m = sub.add_parser("simulate", help="estimate admission chances over N derived-seed draws")
    m.add_argument("instance", help="paiwei-instance/1 JSON file ('-' for stdin)")
    m.add_argument("--draws", type=int, required=True, help="number of simulated draws")
    m.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _no_huge_pages() -> None:
    """Stop numpy from asking for transparent huge pages (``madvise``) for its large arrays.

    The draw's arrays live for a second or less: the kernel zeroing 2 MB pages for them cost
    ~0.25 s of system time on a 1M-applicant draw and saved no user time (three alternating
    runs each).  numpy reads ``NUMPY_MADVISE_HUGEPAGE`` only at import, which precedes this
    entry point, so the setter behind that variable is called; a numpy without it is left as
    it is.  Only the command line does this: it owns its process, the library does not.
    """
    import numpy as np

    core = getattr(np, "_core", None) or getattr(np, "core", None)  # numpy 2 / numpy 1
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is not None:
        setter(False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    _no_huge_pages()
    try:
        try:
            data = _read(args.instance)
        except OSError as exc:
            sys.stderr.write(f"lottery: {args.instance}: cannot read: {exc.strerror}\n")
            return 2
        if args.command == "simulate":
            sim = simulate(parse_instance(data), args.draws)
            if args.json:
                sys.stdout.buffer.write(orjson.dumps(sim.to_json(), option=orjson.OPT_INDENT_2))
                sys.stdout.buffer.write(b"\n")
            else:
                sys.stdout.write(format_table(sim))
            return 0
        if args.command == "run":
            out = run_chunks(data)
            del data
            if args.output:
                try:
                    with open(args.output, "wb") as f:
                        f.writelines(out)
                except OSError as exc:
                    sys.stderr.write(f"lottery: -o {args.output}: cannot write: {exc.strerror}\n")
                    return 2
            else:
                sys.stdout.buffer.writelines(out)
                sys.stdout.buffer.flush()
            return 0
    except InvalidInstance as exc:
        sys.stderr.write(f"lottery: invalid instance: {exc}\n")
        return 2
    except LotteryError as exc:
        sys.stderr.write(f"lottery: {exc}\n")
        return 2
    except Exception as exc:  # never a traceback on the command line
        sys.stderr.write(f"lottery: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    return 1
