"""Role guards. Every non-public route carries exactly one ``allow(...)`` guard; the role x route
test reads ``guard.roles`` from the app's route table."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from admissions.context import Principal

ALL_ROLES = ("parent", "officer", "witness", "notary", "admin")


def allow(*roles: str) -> Any:
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    # async: Litestar would run a sync guard in a worker thread on every request.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.user
        if not isinstance(user, Principal) or user.role not in roles:
            raise PermissionDeniedException(f"requires role: {' or '.join(roles)}")

    guard.roles = frozenset(roles)  # type: ignore[attr-defined]
    return guard


STAFF = allow("officer", "admin")
CITY = allow("officer", "admin")  # plus a service-level check that officers are city-level
