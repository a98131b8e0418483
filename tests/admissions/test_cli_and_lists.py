"""The paiwei CLI (db upgrade, create-officer, usage errors) and list pagination."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from admissions.cli import main
from admissions.db.migrate import alembic_config
from tests.admissions.helpers import Api, application

pytestmark = pytest.mark.anyio


def test_cli_upgrade_and_create_officer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIWEI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PAIWEI_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"database at revision {head}" in capsys.readouterr().out
    assert (tmp_path / "var" / "paiwei.sqlite3").exists()
    secrets_file = tmp_path / "var" / "secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("PAIWEI_NEW_PASSWORD", "a long password")
    assert main(["create-officer", "wang", "--district", "liangxi"]) == 0
    assert "officer wang" in capsys.readouterr().out
    assert main(["create-officer", "wang"]) == 1  # taken
    assert "already taken" in capsys.readouterr().err
    monkeypatch.setenv("PAIWEI_NEW_PASSWORD", "short")
    assert main(["create-officer", "li"]) == 2
    monkeypatch.setenv("PAIWEI_DATA_KEYS", "k1:abcd")
    assert main(["db", "current"]) == 2
    assert "PAIWEI_DATA_KEYS" in capsys.readouterr().err


async def test_pagination(world: Api) -> None:
    api = world
    for serial in range(11, 16):
        assert (await api.register(application(serial=serial))).status_code == 201
    url = f"/campaigns/{api.campaign_id}/applications"
    r = await api.client.get(url + "?limit=2&offset=0", headers=api.h["city"])
    page = r.json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (5, 2, 0, 2)
    seen = [i["number"] for i in page["items"]]
    for off in (2, 4):
        seen += [
            i["number"]
            for i in (
                await api.client.get(f"{url}?limit=2&offset={off}", headers=api.h["city"])
            ).json()["items"]
        ]
    assert len(set(seen)) == 5
    assert all("personal" not in i or i["personal"] is None for i in page["items"])
    # district officers see only their district; parents their own
    assert (await api.client.get(url, headers=api.h["bh"])).json()["total"] == 0
    assert (await api.client.get(url, headers=api.h["p2"])).json()["total"] == 0
    r = await api.client.get("/campaigns?limit=1")
    assert r.json()["total"] == 1
    r = await api.client.get(f"/campaigns/{api.campaign_id}/schools?limit=2&offset=2")
    assert [s["code"] for s in r.json()["items"]] == ["PUB1"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("bogus://x", "not a usable database URL"),
        ("postgresql+asyncpg://postgres@127.0.0.1:1/none", "cannot use the database"),
    ],
)
def test_cli_bad_database_url_is_one_line_exit_2(
    url: str,
    reason: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PAIWEI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PAIWEI_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("paiwei: PAIWEI_DATABASE_URL: ") and reason in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_cli_serve_rejects_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--port", "99999"])
    assert stop.value.code == 2
    assert "not a TCP port" in capsys.readouterr().err
