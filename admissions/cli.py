"""The ``paiwei`` command line.

    paiwei serve [--host H] [--port P] [--workers N] [--no-upgrade]
    paiwei db upgrade [--revision REV]      # Alembic migrations shipped in the package
    paiwei db current
    paiwei create-officer USERNAME [--district D] [--role officer|admin|witness|notary]

Settings come from PAIWEI_* environment variables (admissions.settings). Later commands (``demo``,
the ceremony's ``draw`` ...) plug in through EXTENSIONS: each listed module, if importable,
exposes ``register(subparsers) -> None`` and sets ``func`` on its parsers (``func(args) -> int``).
Exit codes: 0 success, 1 failure, 2 bad usage or bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exc as sa_exc

from admissions.settings import Settings, SettingsError

# Modules adding subcommands (issue 5: ceremony and demo). Missing modules are skipped.
EXTENSIONS = ("admissions.ceremony.cli", "admissions.demo")


def app_factory() -> Any:
    """uvicorn ``--factory`` entry point: one app per worker, settings from the environment,
    behind the registration route's raw ASGI front (``admissions.applications.front``)."""
    from admissions.app import create_app
    from admissions.applications.front import RegistrationFront

    return RegistrationFront(create_app(Settings.from_env()))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings.from_env()
    if not args.no_upgrade:
        asyncio.run(_upgrade(settings, "head"))
    uvicorn.run(
        "admissions.cli:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


async def _upgrade(settings: Settings, revision: str) -> str | None:
    from admissions.db.engine import make_engine
    from admissions.db.migrate import current, upgrade

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine, revision)
        return await current(engine)
    finally:
        await engine.dispose()


def _db_upgrade(args: argparse.Namespace) -> int:
    rev = asyncio.run(_upgrade(Settings.from_env(), args.revision))
    print(f"database at revision {rev}")
    return 0


def _db_current(_: argparse.Namespace) -> int:
    from admissions.db.engine import make_engine
    from admissions.db.migrate import current

    async def run() -> str | None:
        engine = make_engine(Settings.from_env().database_url)
        try:
            return await current(engine)
        finally:
            await engine.dispose()

    print(asyncio.run(run()) or "(empty database)")
    return 0


def _create_officer(args: argparse.Namespace) -> int:
    from admissions.accounts.schemas import AccountIn
    from admissions.accounts.service import create_staff
    from admissions.context import make_context
    from admissions.db.engine import make_engine, make_sessionmaker
    from admissions.errors import DomainError

    password = os.environ.get("PAIWEI_NEW_PASSWORD") or (
        sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    )
    import msgspec

    try:
        data = msgspec.convert(
            {
                "username": args.username,
                "password": password,
                "role": args.role,
                "district": args.district,
            },
            AccountIn,
        )
    except msgspec.ValidationError as exc:
        print(f"paiwei create-officer: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env()

    async def run() -> None:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                acct = await create_staff(session, make_context(settings), data)
            scope = acct.district or "city-wide"
            print(f"created {acct.role} {acct.username} (id {acct.id}, {scope})")
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except DomainError as exc:
        print(f"paiwei create-officer: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1..65535)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paiwei", description="派位 admissions service")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP service (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--workers", type=_positive, default=1)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--no-upgrade", action="store_true", help="do not migrate the database first")
    p.set_defaults(func=_serve)

    db = sub.add_parser("db", help="database migrations").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="migrate to the latest revision")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=_db_upgrade)
    p = db.add_parser("current", help="print the current revision")
    p.set_defaults(func=_db_current)

    p = sub.add_parser("create-officer", help="create a staff account (officer by default)")
    p.add_argument("username")
    p.add_argument("--district", default=None, help="officer's district; omit for city level")
    p.add_argument("--role", default="officer", choices=["officer", "admin", "witness", "notary"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=_create_officer)

    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"paiwei: {exc}", file=sys.stderr)
        return 2
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as exc:
        print(f"paiwei: PAIWEI_DATABASE_URL: not a usable database URL: {exc}", file=sys.stderr)
        return 2
    except (sa_exc.OperationalError, sa_exc.InterfaceError, OSError) as exc:
        # unreachable server, refused connection, unwritable file: the database, not our code
        reason = getattr(exc, "orig", None) or exc
        print(f"paiwei: PAIWEI_DATABASE_URL: cannot use the database: {reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    sys.exit(main())
