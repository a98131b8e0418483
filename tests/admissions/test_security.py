"""Passwords, login throttling (persisted), encryption at rest with key rotation, blind index."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from admissions.accounts.models import User
from admissions.app import create_app
from admissions.applications.models import Application
from admissions.auditlog.models import LogEntry
from admissions.crypto import DataCipher, DecryptionError
from tests.admissions.helpers import PASSWORD, Api, application, id_number

pytestmark = pytest.mark.anyio


async def test_signup_login_and_argon2(api: Api) -> None:
    r = await api.client.post(
        "/accounts/signup", json={"username": "mom", "password": "a long password"}
    )
    assert r.status_code == 201 and r.json()["role"] == "parent"
    r = await api.client.post(
        "/accounts/signup", json={"username": "mom", "password": "a long password"}
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "username"
    r = await api.client.post("/accounts/signup", json={"username": "dad", "password": "short"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "password"
    async with api.db() as s, s.begin():
        h = (
            await s.execute(sa.select(User.password_hash).where(User.username == "mom"))
        ).scalar_one()
    assert h.startswith("$argon2id$")
    r = await api.client.post(
        "/auth/login", json={"username": "mom", "password": "a long password"}
    )
    assert r.status_code == 200
    me = await api.client.get(
        "/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.json()["username"] == "mom"


async def test_login_throttle_is_persisted(api: Api, settings: object) -> None:
    await api.account("officer1", "officer")
    for _ in range(5):
        r = await api.client.post(
            "/auth/login", json={"username": "officer1", "password": "wrong password"}
        )
        assert r.status_code == 401
    r = await api.client.post("/auth/login", json={"username": "officer1", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["errors"][0]["field"] == "username"
    # a second app (another worker, or after a restart) sees the same lock
    other = create_app(settings, api.clock)  # type: ignore[arg-type]
    async with AsyncTestClient(app=other) as c2:
        r = await c2.post("/auth/login", json={"username": "officer1", "password": PASSWORD})
        assert r.status_code == 429
    api.clock.advance(minutes=16)
    r = await api.client.post("/auth/login", json={"username": "officer1", "password": PASSWORD})
    assert r.status_code == 200
    # unknown usernames are throttled too, with the same answer as a wrong password
    r = await api.client.post(
        "/auth/login", json={"username": "ghost", "password": "whatever it is"}
    )
    assert r.status_code == 401


async def test_personal_data_encrypted_and_keys_rotate(world: Api, settings: object) -> None:
    api = world
    r = await api.register(application())
    number = r.json()["number"]
    async with api.db() as s, s.begin():
        row = (
            await s.execute(sa.select(Application).where(Application.number == number))
        ).scalar_one()
        entries = [e for (e,) in await s.execute(sa.select(LogEntry.entry))]
    blob = row.personal
    assert DataCipher.key_id(blob) == "k1"
    for secret in (
        id_number().encode(),
        "张小明".encode(),
        b"13800000000",
        "梁溪区某路1号".encode(),
    ):
        assert secret not in blob
        assert all(secret not in e for e in entries)
    assert row.active_index is not None and id_number() not in row.active_index
    # tampering or moving the ciphertext to another row fails authentication
    with pytest.raises(DecryptionError):
        api.ctx.cipher.decrypt(blob, b"OTHER-NUMBER")
    with pytest.raises(DecryptionError):
        api.ctx.cipher.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), number.encode())
    # rotate: k2 becomes active, k1 stays for reading
    import secrets as _s

    rotated = settings.with_(  # type: ignore[attr-defined]
        data_keys={**settings.data_keys, "k2": _s.token_bytes(32)},
        active_data_key="k2",  # type: ignore[attr-defined]
    )
    app2 = create_app(rotated, api.clock)
    async with AsyncTestClient(app=app2) as c2:
        h = api.h["p1"]  # same JWT secret: the old token still works
        r = await c2.get(f"/applications/{number}", headers=h)
        assert r.status_code == 200 and r.json()["personal"]["child_name"] == "张小明"
        body = application(serial=13)
        r = await c2.post(f"/campaigns/{api.campaign_id}/applications", json=body, headers=h)
        assert r.status_code == 201
    async with api.db() as s, s.begin():
        new = (
            await s.execute(
                sa.select(Application.personal).where(Application.number == r.json()["number"])
            )
        ).scalar_one()
    assert DataCipher.key_id(new) == "k2"


async def test_error_messages_carry_no_personal_data(world: Api) -> None:
    body = application()
    body["child"]["name"] = "王" * 60  # too long
    r = await world.register(body)
    assert r.status_code == 400 and "王王" not in r.text
