"""Accounts: argon2id password hashing (RFC 9106) and login throttling persisted in the database.

Throttling: per username, failures are counted in a fixed window of
``settings.login_window_seconds``; at ``login_max_failures`` failures, further attempts in that
window are refused with 429 *before* the password is checked (so guessing costs nothing to the
attacker's advantage and the count is shared by every worker). A successful login resets it.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.accounts.models import LoginThrottle, User
from admissions.accounts.schemas import AccountIn, AccountOut, SignupIn
from admissions.context import Context
from admissions.errors import Conflict, InvalidInput, TooManyAttempts, Unauthorized

# A valid hash to verify against when the username is unknown (equal timing for both cases).
_DUMMY: dict[int, str] = {}


def to_out(user: User) -> AccountOut:
    return AccountOut(id=user.id, username=user.username, role=user.role, district=user.district)


async def create_account(
    session: AsyncSession,
    ctx: Context,
    username: str,
    password: str,
    role: str,
    district: str | None = None,
) -> AccountOut:
    if role == "officer" and district is not None and not district:
        raise InvalidInput("district", "must not be empty")
    if role != "officer" and district is not None:
        raise InvalidInput("district", "only officers have a district")
    user = User(
        username=username,
        password_hash=ctx.hasher.hash(password),
        role=role,
        district=district,
        created_at=ctx.clock(),
    )
    try:
        async with session.begin():
            session.add(user)
    except IntegrityError:
        raise Conflict("username already taken", "username", "already taken") from None
    return to_out(user)


async def signup(session: AsyncSession, ctx: Context, data: SignupIn) -> AccountOut:
    return await create_account(session, ctx, data.username, data.password, "parent")


async def create_staff(session: AsyncSession, ctx: Context, data: AccountIn) -> AccountOut:
    return await create_account(
        session, ctx, data.username, data.password, data.role, data.district
    )


async def authenticate(
    session: AsyncSession, ctx: Context, username: str, password: str
) -> AccountOut:
    now = ctx.clock()
    window = timedelta(seconds=ctx.settings.login_window_seconds)
    async with session.begin():
        throttle = await session.get(LoginThrottle, username, with_for_update=True)
        if throttle is not None and now - throttle.window_start >= window:
            throttle.failures, throttle.window_start = 0, now
        if throttle is not None and throttle.failures >= ctx.settings.login_max_failures:
            raise TooManyAttempts(
                "too many failed logins; try again later", "username", "temporarily locked"
            )
        user = (
            await session.execute(sa.select(User).where(User.username == username))
        ).scalar_one_or_none()
        ok = False
        if user is not None:
            try:
                ok = ctx.hasher.verify(user.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        else:
            dummy = _DUMMY.setdefault(id(ctx.hasher), ctx.hasher.hash("dummy-password"))
            with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
                ctx.hasher.verify(dummy, password)
        if ok and user is not None:
            if throttle is not None:
                await session.delete(throttle)
            if ctx.hasher.check_needs_rehash(user.password_hash):
                user.password_hash = ctx.hasher.hash(password)
            return to_out(user)
        if throttle is None:
            session.add(LoginThrottle(username=username, failures=1, window_start=now))
        else:
            throttle.failures += 1
    # Committed the failure count; now refuse.
    raise Unauthorized("wrong username or password", "password", "wrong username or password")


async def get_account(session: AsyncSession, user_id: int) -> AccountOut | None:
    async with session.begin():
        user = await session.get(User, user_id)
        return None if user is None else to_out(user)
