"""Shared fixtures: a migrated database per test, on SQLite always and on PostgreSQL when
``PAIWEI_TEST_DATABASE_URL`` is set (``PAIWEI_REQUIRE_POSTGRES=1`` turns "unreachable" into a
failure instead of a skip).

- ``db_url`` (parametrised ``sqlite`` / ``postgresql``): a database migrated to head and empty.
  SQLite: the session migrates one template file; each test gets a copy. PostgreSQL: the session
  creates a fresh database ``paiwei_t_<random>`` (one per xdist worker), migrates it, and drops it
  at the end; each test starts from truncated tables.
- ``clock``: a FakeClock at 2026-04-20T00:00Z.
- ``app``: ``create_app(Settings.for_tests(db_url), clock)``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("PAIWEI_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("PAIWEI_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _run(coro: Any) -> Any:
    """Run a coroutine to completion on a private loop in another thread (session fixtures may be
    first requested from inside a running test loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _migrate(url: str) -> None:
    from admissions.db.engine import make_engine
    from admissions.db.migrate import upgrade

    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    _run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("PAIWEI_REQUIRE_POSTGRES=1 but PAIWEI_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need PAIWEI_TEST_DATABASE_URL")
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from admissions.db.engine import make_engine

    name = "paiwei_t_" + secrets.token_hex(6)
    base = make_url(PG_URL)

    async def admin(sql: str) -> None:
        engine = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    try:
        _run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server, bad credentials
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL unreachable at PAIWEI_TEST_DATABASE_URL: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    # Test data is disposable: skip the WAL flush on commit.
    _run(admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = base.set(database=name).render_as_string(hide_password=False)
    _run(_migrate(url))
    yield url
    _run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    from sqlalchemy import text

    from admissions.db.base import Base, import_models
    from admissions.db.engine import make_engine

    import_models()
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            # DELETE is much faster than TRUNCATE on a handful of tiny tables.
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(table.delete())
            await conn.execute(
                text("INSERT INTO log_state (id, size, hashes, last_time) VALUES (1, 0, '', '')")
            )
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("_pg_database")
    await _truncate(url)
    return url


@pytest.fixture
def clock() -> Any:
    from admissions.clock import FakeClock

    return FakeClock(datetime(2026, 4, 20, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str) -> Any:
    from admissions.settings import Settings

    return Settings.for_tests(db_url, debug=os.environ.get("PAIWEI_DEBUG") == "1")


@pytest.fixture
async def app(settings: Any, clock: Any) -> AsyncIterator[Any]:
    from admissions.app import create_app

    # The app's engine is disposed by its lifespan (AsyncTestClient runs it on the client's
    # portal loop); tests reach the database through their own engine (``db`` below).
    yield create_app(settings, clock)


@pytest.fixture
async def db(settings: Any) -> AsyncIterator[Any]:
    """A session factory on the test's own event loop and engine (for setup and assertions)."""
    from admissions.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()
