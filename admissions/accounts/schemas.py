from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from admissions.schemas import Code

Username = Annotated[
    str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@+\-]+(?!\n)$")
]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
Role = Literal["parent", "officer", "witness", "notary", "admin"]


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    """A parent creates their own account."""

    username: Username
    password: Password


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    """An admin creates a staff account (officer per district, witness, notary, admin)."""

    username: Username
    password: Password
    role: Role
    district: Code | None = None


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class AccountOut(msgspec.Struct):
    id: int
    username: str
    role: str
    district: str | None


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    account: AccountOut
