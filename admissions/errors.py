"""Domain errors of the admissions service and their one mapping to RFC 9457 problem details.

Services raise :class:`DomainError` subclasses; :func:`exception_handlers` translates them (and
Litestar's own validation/auth errors) into ``application/problem+json`` responses with an
``errors`` list of ``{"field", "reason"}``. Messages never include personal data: they name the
field and the rule, never echo the submitted value.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("paiwei.admissions")

PROBLEM = "application/problem+json"


class DomainError(Exception):
    status = 400
    title = "Bad request"
    type_ = "invalid-input"

    def __init__(self, detail: str, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = [{"field": field or "", "reason": reason or detail}] if field else []


class InvalidInput(DomainError):
    """A value breaks a rule the schema cannot express (check digit, age, choices ...)."""

    status = 422
    title = "Invalid input"
    type_ = "invalid-input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field, reason)


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_ = "not-found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_ = "conflict"


class PhaseError(Conflict):
    """The campaign's phase or clock forbids the action (out of window, wrong transition)."""

    type_ = "wrong-phase"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_ = "forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    type_ = "unauthorized"


class TooManyAttempts(DomainError):
    status = 429
    title = "Too many attempts"
    type_ = "throttled"


def problem(
    status: int, title: str, detail: str, type_: str, errors: list[dict[str, str]] | None = None
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"urn:paiwei:problem:{type_}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(content=body, status_code=status, media_type=PROBLEM)


def _domain(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem(exc.status, exc.title, exc.detail, exc.type_, exc.errors)


_AT = re.compile(r"\s*-\s*at\s*`\$(?P<path>[^`]*)`")
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def _field(key: object, message: str) -> str:
    """The dotted field a msgspec/Litestar validation message is about ("" = the whole body)."""
    m = _AT.search(message)
    field = m.group("path").lstrip(".") if m else str(key or "")
    if field == "data" or field.startswith("data."):  # Litestar names the body "data"
        field = field[5:]
    named = _NAMED.search(message)
    if named:
        field = f"{field}.{named.group('name')}" if field else named.group("name")
    return field or "body"


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, str]] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid"))
        field = _field(item.get("key"), message)
        source = item.get("source")
        if source in ("query", "path", "header", "cookie"):
            field = f"{source}.{item.get('key')}"
        errors.append({"field": field, "reason": _AT.sub("", message)})
    if not errors:
        errors.append({"field": "body", "reason": exc.detail or "malformed request"})
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem(400, "Invalid request", detail, "invalid-request", errors)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    kinds = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}
    if isinstance(exc, NotAuthorizedException):
        detail = "authentication required"
    elif isinstance(exc, PermissionDeniedException):
        detail = exc.detail or "not allowed for this role"
    else:
        detail = exc.detail
    title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found"}.get(exc.status_code, "Error")
    errors = [{"field": "body", "reason": detail}] if exc.status_code == 400 else None
    return problem(exc.status_code, title, detail, kinds.get(exc.status_code, "http-error"), errors)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Log type and route only: the exception text could carry personal data from a bound value.
    # (Tracebacks only in debug mode.)
    log.error(
        "internal error %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc if request.app.debug else None,
    )
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Internal error", "internal error", "internal")


def exception_handlers() -> dict[Any, Any]:
    return {
        DomainError: _domain,
        ValidationException: _validation,
        HTTPException: _http,
        Exception: _internal,
    }
