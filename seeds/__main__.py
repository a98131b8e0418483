"""``python -m seeds city|families``: print the demo city or synthetic families as JSON."""

from __future__ import annotations

import argparse
import sys

import orjson

from seeds.city import demo_city
from seeds.export import city_json, families_json
from seeds.families import families


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seeds", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("city", "the demo city"), ("families", "synthetic families")):
        p = sub.add_parser(name, help=f"print {help_text} as JSON")
        p.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        p.add_argument("--year", type=int, default=2026, help="campaign year (default 2026)")
        p.add_argument(
            "--n", type=int, default=5000, help="number of families the plans are sized for "
            "and, for `families`, how many to generate (default 5000)"
        )  # fmt: skip
        p.add_argument(
            "--city-seed", type=int, default=None, help="seed of the city (default: --seed)"
        )
        p.add_argument("--indent", action="store_true", help="pretty-print")
    args = parser.parse_args(argv)
    if args.n < 0:
        print(f"error: --n: must be >= 0, got {args.n}", file=sys.stderr)
        return 2
    try:
        city_seed = args.seed if args.city_seed is None else args.city_seed
        city = demo_city(city_seed, args.year, expected_families=max(args.n, 1))
        payload: object
        if args.command == "city":
            payload = city_json(city)
        else:
            payload = families_json(families(city, args.n, args.seed))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    option = orjson.OPT_INDENT_2 if args.indent else 0
    sys.stdout.buffer.write(orjson.dumps(payload, option=option) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
