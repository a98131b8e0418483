"""Role guards. Every non-public route carries exactly one ``allow(...)`` guard; the role x route
test reads ``guard.roles`` from the app's route table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import Token

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


class CachedToken(Token):
    """Litestar's JWT :class:`Token` with verified tokens remembered (the ``token_cls`` of the
    app's ``JWTAuth``). Verifying a token (PyJWT: base64, JSON, HMAC-SHA256, claims, then
    Litestar's msgspec conversion) cost ~0.3 ms per request, repeated for every request a
    family makes with the same token. A cache hit needs the byte-identical encoded token --
    header, claims *and* signature, so nothing unverified is ever accepted -- and rechecks the
    expiry (RFC 7519 section 4.1.4) on every use; tokens are short-lived and the cache is
    bounded (cleared when full)."""

    _verified: ClassVar[dict[tuple[str, str, str], tuple[dict[str, Any], Token]]] = {}
    MAX_CACHED: ClassVar[int] = 10_000

    @classmethod
    def decode(  # type: ignore[override]
        cls, encoded_token: str, secret: str, algorithm: str, **options: Any
    ) -> Token:
        # The verification options (audience, issuer, required claims ...) must match too.
        key = (encoded_token, secret, algorithm)
        hit = cls._verified.get(key)
        if hit is not None and hit[0] == options:
            token = hit[1]
            if token.exp > datetime.now(UTC):
                return token
            del cls._verified[key]
        token = super().decode(encoded_token, secret, algorithm, **options)
        if len(cls._verified) >= cls.MAX_CACHED:
            cls._verified.clear()
        cls._verified[key] = (dict(options), token)
        return token
