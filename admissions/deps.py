"""Request-scoped dependencies shared by every controller."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.context import Context, Principal
from admissions.errors import Unauthorized
from admissions.schemas import MAX_LIMIT


async def provide_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    async with state.sessionmaker() as session:
        yield session


def provide_ctx(state: State) -> Context:
    ctx: Context = state.ctx
    return ctx


def provide_actor(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized("authentication required")
    return user


# Explicit injection markers (Litestar >= 2.23; inferred injection is deprecated for 3.0).
DB = NamedDependency[AsyncSession]
Ctx = NamedDependency[Context]
Actor = NamedDependency[Principal]

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="page size")]
Offset = Annotated[int, QueryParameter(ge=0, description="items to skip")]
