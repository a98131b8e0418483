"""A raw ASGI front for the hottest route, ``POST /campaigns/{id}/applications``.

Theory of operation. Litestar's per-request machinery -- routing, the JWT middleware, the guard,
the handler's signature model (the body decoded to builtins, then converted), the response
object -- cost about as much CPU as the registration itself in py-spy profiles of the served
app. :class:`RegistrationFront` wraps the Litestar app and serves only the plain *success* case
of that one route itself; it hands everything else to the Litestar app, unchanged and with the
body replayed, so every answer other than a group-committed 201 -- every error body included --
is still Litestar's:

* any other route, method or scope; a ``root_path``; a trailing slash;
* a missing or repeated ``Authorization`` header, anything but ``Bearer <token>``, a token that
  does not verify with the app's own JWT settings (``CachedToken.decode``, the same call and
  options as Litestar's middleware), or a role other than ``parent`` (the route's guard);
* a body over 64 KiB, or one that does not decode *strictly* into ``ApplicationIn`` (Litestar
  decodes leniently: what the strict decoder accepts, Litestar accepts with the same values);
* every registration that does not complete on the group-commit path
  (``service.register_fast``: SQLite, bundles, a cold campaign cache, any validation error, a
  duplicate, a closed window, a refused batch). That path writes nothing unless it succeeds, so
  Litestar then runs the route from the start and gives the usual answer.

An unexpected error on the group-commit path (e.g. the connection lost during the commit:
outcome unknown) is not retried: it gets the app's 500 problem body, as in Litestar.
The success response is the handler's own ``ApplicationOut`` with Litestar's JSON encoder, status
201 and the same headers. ``tests/admissions/test_front.py`` compares the two paths.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Litestar
from litestar.exceptions import NotAuthorizedException
from litestar.serialization import encode_json

from admissions.accounts.guards import CachedToken
from admissions.applications import service
from admissions.applications.schemas import ApplicationIn
from admissions.context import Principal
from admissions.errors import DomainError

log = logging.getLogger("paiwei.admissions")

_PREFIX, _SUFFIX = "/campaigns/", "/applications"
MAX_BODY = 64 * 1024  # a registration is a few kB; larger bodies go to Litestar (limit 10 MB)
_DECODER = msgspec.json.Decoder(ApplicationIn)
_INTERNAL = encode_json(
    {
        "type": "urn:paiwei:problem:internal",
        "title": "Internal error",
        "status": 500,
        "detail": "internal error",
    }
)


class RegistrationFront:
    """ASGI app: ``RegistrationFront(create_app(settings))`` (what ``paiwei serve`` runs)."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self.state = app.state
        jwt = app.state.jwt_auth
        self._secret = jwt.token_secret
        self._algorithm = jwt.algorithm
        # the keyword arguments JWTAuthenticationMiddleware.authenticate_token passes
        self._options = {
            "audience": jwt.accepted_audiences,
            "issuer": jwt.accepted_issuers,
            "require_claims": jwt.require_claims,
            "verify_exp": jwt.verify_expiry,
            "verify_nbf": jwt.verify_not_before,
            "strict_audience": jwt.strict_audience,
        }
        self._usable = jwt.auth_header.lower() == "authorization" and not jwt.revoked_token_handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not self._usable
            or scope.get("root_path")
        ):
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        campaign_id = path[len(_PREFIX) : -len(_SUFFIX)]
        if (
            not path.startswith(_PREFIX)
            or not path.endswith(_SUFFIX)
            or not campaign_id
            or "/" in campaign_id
        ):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:  # the whole body, up to MAX_BODY
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay(body, True, message, receive), send)
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:  # far below Litestar's limit: Litestar reads the rest
                return await self.app(scope, _replay(body, more, None, receive), send)
        out = await self._register(scope, campaign_id, body)
        if out is None:
            return await self.app(scope, _replay(body, False, None, receive), send)
        status, content = out
        media = b"application/problem+json" if status == 500 else b"application/json"
        headers = [(b"content-type", media), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _register(
        self, scope: Any, campaign_id: str, body: bytes
    ) -> tuple[int, bytes] | None:
        """(status, body) of a group-committed registration, or ``None``: let Litestar answer."""
        actor = self._actor(scope)
        if actor is None:
            return None
        try:
            data = _DECODER.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        state = self.state
        try:
            out = await service.register_fast(
                state.sessionmaker.kw.get("bind"), state.ctx, actor, campaign_id, data
            )
        except DomainError:
            return None
        except Exception as exc:  # outcome unknown: never retried (Litestar's 500 body)
            log.error("internal error %s on POST %s{id}%s", type(exc).__name__, _PREFIX, _SUFFIX)
            return 500, _INTERNAL
        if out is None:
            return None
        return 201, encode_json(out)

    def _actor(self, scope: Any) -> Principal | None:
        """The parent the request's bearer token names, or ``None`` (Litestar decides)."""
        values = [v for k, v in scope["headers"] if k.lower() == b"authorization"]
        if len(values) != 1:
            return None
        scheme, _, token = values[0].decode("latin-1").partition(" ")
        if scheme != "Bearer" or not token:
            return None
        try:
            t = CachedToken.decode(token, self._secret, self._algorithm, **self._options)
            role = t.extras["role"]
            actor = Principal(id=int(t.sub), role=str(role), district=t.extras.get("district"))
        except (NotAuthorizedException, KeyError, ValueError):
            return None
        return actor if actor.role == "parent" else None


def _replay(body: bytes, more: bool, pending: Any, receive: Any) -> Any:
    """A ``receive`` that gives the body read so far (``more``: not all of it), then
    ``pending`` (the message that interrupted the body, if any), then the real ``receive``."""
    queue: list[Any] = [{"type": "http.request", "body": body, "more_body": more}]
    if pending is not None:
        queue.append(pending)

    async def again() -> Any:
        if queue:
            return queue.pop(0)
        return await receive()

    return again
