"""admissions.accounts.guards.CachedToken: a verified JWT is remembered by its exact encoded
form; anything else is verified in full; expiry is rechecked on every use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from admissions.accounts.guards import CachedToken

SECRET = "s" * 32
OPTS = {"audience": None, "issuer": None, "verify_exp": True}


def _encode(exp: datetime, sub: str = "7") -> str:
    return Token(exp=exp, sub=sub, extras={"role": "parent"}).encode(SECRET, "HS256")


def test_verified_token_is_reused_and_tampering_is_still_rejected() -> None:
    CachedToken._verified.clear()
    enc = _encode(datetime.now(UTC) + timedelta(hours=1))
    first = CachedToken.decode(enc, SECRET, "HS256", **OPTS)
    assert first.sub == "7" and first.extras["role"] == "parent"
    assert CachedToken.decode(enc, SECRET, "HS256", **OPTS) is first
    head, body, sig = enc.split(".")
    forged = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    with pytest.raises(NotAuthorizedException):
        CachedToken.decode(forged, SECRET, "HS256", **OPTS)
    with pytest.raises(NotAuthorizedException):  # same token, other secret: not a cache hit
        CachedToken.decode(enc, "t" * 32, "HS256", **OPTS)


def test_expiry_is_rechecked_on_every_use() -> None:
    CachedToken._verified.clear()
    with pytest.raises(NotAuthorizedException):
        expired = {"sub": "7", "role": "parent", "exp": datetime.now(UTC) - timedelta(seconds=5)}
        CachedToken.decode(jwt.encode(expired, SECRET, "HS256"), SECRET, "HS256", **OPTS)
    assert not CachedToken._verified
    enc = _encode(datetime.now(UTC) + timedelta(hours=1))
    cached = CachedToken.decode(enc, SECRET, "HS256", **OPTS)
    cached.exp = datetime.now(UTC) - timedelta(seconds=1)  # as if its lifetime had run out
    fresh = CachedToken.decode(enc, SECRET, "HS256", **OPTS)
    assert fresh is not cached and fresh.exp > datetime.now(UTC)


def test_other_verification_options_are_not_a_cache_hit() -> None:
    CachedToken._verified.clear()
    enc = _encode(datetime.now(UTC) + timedelta(hours=1))
    CachedToken.decode(enc, SECRET, "HS256", **OPTS)
    with pytest.raises(NotAuthorizedException):  # the token has no audience claim
        CachedToken.decode(enc, SECRET, "HS256", **{**OPTS, "audience": "elsewhere"})
