"""``paiwei demo``: a whole admission campaign of the seeds demo city, through the HTTP API.

    paiwei demo [--families N] [--seed S] [--db PATH] [--keep-serving] [--concurrency C]

The driver (``admissions.demo.run``) creates a fresh SQLite database, starts the service
(uvicorn, a subprocess on 127.0.0.1 and a free port, on a demo clock: ``admissions.demo.server``)
and then acts as every user would, over HTTP with httpx: the admin creates staff accounts, the
city officer creates the campaign and its schools, the families sign up and register, officers
review, the campaign is frozen, witnesses commit and reveal, the officer enters the beacon, draws
and publishes, and a notary downloads the bundle and verifies it with ``paiwei-audit verify``.
See docs/demo.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_FAMILIES = 2000
DEFAULT_SEED = 2026
DEFAULT_DB = Path("var") / "demo" / "paiwei-demo.sqlite3"


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _families(value: str) -> int:
    n = _positive(value)
    if n < 20 or n > 100_000:
        raise argparse.ArgumentTypeError(f"must be between 20 and 100000, got {n}")
    return n


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run a whole demo campaign (register, review, draw, publish, verify) on SQLite",
        description=(
            "Create the Wuxi demo city on a fresh SQLite file, start the service on 127.0.0.1, "
            "and run a whole campaign through its HTTP API: synthetic families register, "
            "officers review and freeze, witnesses commit and reveal, the draw, publication, "
            "and an offline verification of the published bundle."
        ),
    )
    p.add_argument(
        "--families",
        type=_families,
        default=DEFAULT_FAMILIES,
        metavar="N",
        help=f"number of synthetic families (20..100000, default {DEFAULT_FAMILIES})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="S",
        help=f"seed of the city and the families (default {DEFAULT_SEED})",
    )
    p.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help=(
            f"SQLite file to create (must not exist; default {DEFAULT_DB}, replaced on each "
            "run); the bundle and witness keys go next to it"
        ),
    )
    p.add_argument(
        "--keep-serving",
        action="store_true",
        help="leave the service running at the end (browse /schema and the results; Ctrl-C stops)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive,
        default=16,
        metavar="C",
        help="requests in flight at once (families registering, officers reviewing; default 16)",
    )
    p.add_argument(
        "--port", type=int, default=0, metavar="P", help="port on 127.0.0.1 (default: a free one)"
    )
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from admissions.demo.run import Options, main

    return main(
        Options(
            families=args.families,
            seed=args.seed,
            db=args.db,
            keep_serving=args.keep_serving,
            concurrency=args.concurrency,
            port=args.port,
        )
    )
