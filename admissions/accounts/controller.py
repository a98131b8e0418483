from __future__ import annotations

from datetime import timedelta

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from admissions.accounts import service
from admissions.accounts.guards import allow
from admissions.accounts.schemas import AccountIn, AccountOut, LoginIn, SignupIn, TokenOut
from admissions.deps import DB, Actor, Ctx
from admissions.errors import NotFound


class AccountController(Controller):
    tags = ("accounts",)

    @post("/accounts/signup", operation_id="signup", exclude_from_auth=True)
    async def signup(self, data: JSONBody[SignupIn], session: DB, ctx: Ctx) -> AccountOut:
        """A parent creates an account."""
        return await service.signup(session, ctx, data)

    @post("/auth/login", operation_id="login", exclude_from_auth=True, status_code=200)
    async def login(self, data: JSONBody[LoginIn], session: DB, ctx: Ctx, state: State) -> TokenOut:
        """Exchange username and password for a bearer token (throttled per username)."""
        acct = await service.authenticate(session, ctx, data.username, data.password)
        minutes = ctx.settings.token_minutes
        token = state.jwt_auth.create_token(
            identifier=str(acct.id),
            token_expiration=timedelta(minutes=minutes),
            token_extras={"role": acct.role, "district": acct.district},
        )
        return TokenOut(
            access_token=token, token_type="Bearer", expires_in=minutes * 60, account=acct
        )

    @get(
        "/me", operation_id="me", guards=[allow("parent", "officer", "witness", "notary", "admin")]
    )
    async def me(self, session: DB, actor: Actor) -> AccountOut:
        acct = await service.get_account(session, actor.id)
        if acct is None:
            raise NotFound("account no longer exists")
        return acct

    @post("/accounts", operation_id="createAccount", guards=[allow("admin")])
    async def create(self, data: JSONBody[AccountIn], session: DB, ctx: Ctx) -> AccountOut:
        """An admin creates a staff account (district or city officer, witness, notary, admin)."""
        return await service.create_staff(session, ctx, data)
