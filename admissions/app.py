"""The Litestar application factory. Nothing is read at import time: ``create_app(settings)``.

``create_app`` builds the engine (lazily connecting), the session factory, the service context
(settings, clock, cipher, password hasher) and the JWT bearer-token backend. Tokens travel in the
``Authorization`` header, never in cookies, so there is no ambient credential for a cross-site
request to ride on and CSRF protection is not needed (docs/service.md).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.security.jwt import JWTAuth, Token
from sqlalchemy import text

from admissions.accounts.controller import AccountController
from admissions.accounts.guards import CachedToken
from admissions.applications.controller import ApplicationController
from admissions.auditlog.controller import LogController
from admissions.campaigns.controller import CampaignController
from admissions.ceremony.controller import (
    CampaignDrawController,
    DrawController,
    StandingController,
)
from admissions.clock import Clock
from admissions.context import Principal, make_context
from admissions.db.engine import make_engine, make_sessionmaker
from admissions.deps import provide_actor, provide_ctx, provide_session
from admissions.errors import exception_handlers
from admissions.publication.controller import PublicationController
from admissions.review.controller import ReviewController
from admissions.schools.controller import SchoolController
from admissions.settings import Settings

ROUTE_HANDLERS: list[Any] = [
    AccountController,
    CampaignController,
    SchoolController,
    ApplicationController,
    ReviewController,
    LogController,
    CampaignDrawController,
    DrawController,
    StandingController,
    PublicationController,
]


class Health(msgspec.Struct):
    status: str
    database: str


@get("/healthz", operation_id="health", exclude_from_auth=True)
async def healthz(state: State) -> Health:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return Health("ok", state.engine.dialect.name)


@get("/ping", operation_id="ping", exclude_from_auth=True)
async def ping() -> Health:
    """Trivial endpoint (no database), the baseline for benchmarks/api_load.py."""
    return Health("ok", "-")


async def _retrieve_user(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    try:
        role = token.extras["role"]
        return Principal(id=int(token.sub), role=str(role), district=token.extras.get("district"))
    except (KeyError, ValueError):
        return None


def create_app(
    settings: Settings, clock: Clock | None = None, extra_handlers: list[Any] | None = None
) -> Litestar:
    """Build the app. ``extra_handlers`` is where later issues (ceremony, publication) plug in."""
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessionmaker = make_sessionmaker(engine)
    ctx = make_context(settings, clock)
    jwt_auth = JWTAuth[Principal](
        token_secret=settings.jwt_secret,
        retrieve_user_handler=_retrieve_user,
        token_cls=CachedToken,
        exclude=["^/schema"],
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await engine.dispose()

    state = State(
        {"engine": engine, "sessionmaker": sessionmaker, "ctx": ctx, "jwt_auth": jwt_auth}
    )
    return Litestar(
        route_handlers=[healthz, ping, *ROUTE_HANDLERS, *(extra_handlers or [])],
        dependencies={
            "session": Provide(provide_session),
            "ctx": Provide(provide_ctx, sync_to_thread=False),
            "actor": Provide(provide_actor, sync_to_thread=False),
        },
        state=state,
        on_app_init=[jwt_auth.on_app_init],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(title="paiwei admissions", version="1", path="/schema"),
        lifespan=[lifespan],
        debug=settings.debug,
    )
