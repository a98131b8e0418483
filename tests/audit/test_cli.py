"""paiwei-audit CLI: exit codes, JSON report, HTML report, cosign state, commit/reveal, receipts."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from audit import draw, note
from audit.checkpoint import sign_checkpoint
from audit.cli import main
from audit.merkle import leaf_hash, root

from .fixtures import DRAW_ID, ORIGIN, Campaign, build_campaign


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    return build_campaign(tmp_path_factory.mktemp("cli") / "bundle")


@pytest.fixture
def trust_file(campaign: Campaign, tmp_path: Path) -> str:
    f = tmp_path / "trust.vkeys"
    f.write_text("\n".join(campaign.trust) + "\n")
    return str(f)


def _previous(campaign: Campaign, tmp_path: Path) -> str:
    f = tmp_path / "previous.checkpoint"
    f.write_text(campaign.early_checkpoint)
    return str(f)


def test_verify_valid_json_and_html(
    campaign: Campaign, trust_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "report.html"
    code = main(
        [
            "verify",
            str(campaign.path),
            "--trust",
            trust_file,
            "--witnesses",
            "2",
            "--previous",
            _previous(campaign, tmp_path),
            "--json",
            "--html",
            str(html),
            "--now",
            "1800000000",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["verdict"] == "VALID" and out["exit_code"] == 0
    assert {c["status"] for c in out["checks"]} == {"passed"}
    page = html.read_text()
    assert "VALID: all" in page and "<script" not in page and "log.consistency" in page


def test_verify_text_incomplete_without_previous(
    campaign: Campaign, trust_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", str(campaign.path), "--trust", trust_file, "--now", "1800000000"])
    out = capsys.readouterr().out
    assert code == 1
    assert "INCOMPLETE" in out and "VALID: all" not in out
    assert "log.consistency" in out and "NOT PERFORMED" in out


def test_verify_failed_exit_1(
    campaign: Campaign, trust_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(campaign.path, bad)
    (bad / "log" / "checkpoint").write_text(campaign.early_checkpoint)
    code = main(["verify", str(bad), "--trust", trust_file, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["verdict"] == "INVALID"
    failed = {c["name"] for c in out["checks"] if c["status"] == "failed"}
    assert "log.tree" in failed


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "/nonexistent/bundle", "--trust", "a+00000000+AQ=="],
        ["verify", ".", "--trust", "not-a-key"],
        ["verify"],
        ["frobnicate"],
    ],
)
def test_unusable_input_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("paiwei-audit: ") and "Traceback" not in err


def test_keygen_writes_private_key_0600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "zhang"
    assert main(["keygen", "notary.example/zhang", "--out", str(prefix)]) == 0
    skey = Path(f"{prefix}.skey")
    assert stat.S_IMODE(skey.stat().st_mode) == 0o600
    vkey = Path(f"{prefix}.vkey").read_text().strip()
    assert note.verifier_key_text(skey.read_text().strip()) == vkey
    assert main(["keygen", "notary.example/zhang", "--out", str(prefix)]) == 2  # no overwrite


def test_commit_and_reveal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skey, vkey = note.generate_key("notary.example/li", seed=b"\x03" * 32)
    kf = tmp_path / "li.skey"
    kf.write_text(skey)
    roster = "ab" * 32
    secret = tmp_path / "secret"
    assert (
        main(
            [
                "commit",
                "--key",
                str(kf),
                "--draw",
                DRAW_ID,
                "--roster",
                roster,
                "--secret-out",
                str(secret),
                "-o",
                str(tmp_path / "c.note"),
            ]
        )
        == 0
    )
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (
        main(
            [
                "reveal",
                "--key",
                str(kf),
                "--draw",
                DRAW_ID,
                "--roster",
                roster,
                "--secret",
                str(secret),
                "-o",
                str(tmp_path / "r.note"),
            ]
        )
        == 0
    )
    c = draw.parse_witness_note((tmp_path / "c.note").read_text(), vkey, kind="commit")
    r = draw.parse_witness_note((tmp_path / "r.note").read_text(), vkey, kind="reveal")
    draw.verify_reveal_matches(c, r)
    assert r.value.hex() == secret.read_text().strip()
    # never overwrite a secret
    assert (
        main(
            [
                "commit",
                "--key",
                str(kf),
                "--draw",
                DRAW_ID,
                "--roster",
                roster,
                "--secret-out",
                str(secret),
            ]
        )
        == 2
    )


def test_cosign_enforces_append_only(
    campaign: Campaign, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kf = tmp_path / "w2.skey"
    kf.write_text(campaign.witness_skeys[2])
    state = tmp_path / "state"
    early, final = tmp_path / "early", tmp_path / "final"
    early.write_text(campaign.early_checkpoint)
    final.write_text(campaign.checkpoint)
    base = ["cosign", "--key", str(kf), "--state", str(state), "--time", "1784800000"]
    # First use needs the log key; it is pinned in the state.
    assert main([*base, str(early)]) == 2
    assert (
        main([*base, str(early), "--log-key", campaign.log_vkey, "-o", str(tmp_path / "o1")]) == 0
    )
    assert (state / "log.vkey").read_text().strip() == campaign.log_vkey
    # A larger checkpoint without entries cannot be proven append-only: refused.
    assert main([*base, str(final)]) == 1
    assert "without --entries" in capsys.readouterr().err
    entries = campaign.path / "log" / "entries.jsonl"
    assert main([*base, str(final), "--entries", str(entries), "-o", str(tmp_path / "o2")]) == 0
    cosigned = (tmp_path / "o2").read_text()
    assert "— notary.example/w2 " in cosigned
    # A fork (same size, other root) and a rollback are refused.
    leaves = [leaf_hash(e) for e in campaign.entries]
    fork = tmp_path / "fork"
    fork.write_text(sign_checkpoint(ORIGIN, len(leaves), b"\x01" * 32, campaign.log_skey))
    assert main([*base, str(fork)]) == 1
    assert "fork" in capsys.readouterr().err
    back = tmp_path / "back"
    back.write_text(sign_checkpoint(ORIGIN, 10, root(leaves[:10]), campaign.log_skey))
    assert main([*base, str(back)]) == 1
    assert "shrink" in capsys.readouterr().err
    # A checkpoint not signed by the pinned log key is refused.
    other_skey, _ = note.generate_key(ORIGIN, seed=b"\x55" * 32)
    forged = tmp_path / "forged"
    forged.write_text(sign_checkpoint(ORIGIN, len(leaves), root(leaves), other_skey))
    assert main([*base, str(forged)]) == 1


def test_receipt(campaign: Campaign, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rf = tmp_path / "receipt.tlog-proof"
    rf.write_text(campaign.receipt)
    record = tmp_path / "record.json"
    record.write_text(json.dumps(campaign.receipt_record, ensure_ascii=False))
    args = ["receipt", str(rf), "--bundle", str(campaign.path), "--json"]
    assert (
        main(
            [
                *args,
                "--trust",
                campaign.log_vkey,
                "--salt",
                campaign.receipt_salt.hex(),
                "--record",
                str(record),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "VALID"
    assert "registration.record" in {c["name"] for c in out["checks"]}
    # Without a pinned key: not VALID.
    assert main(args) == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == "INCOMPLETE"
    # Wrong salt: the record check fails.
    assert (
        main([*args, "--trust", campaign.log_vkey, "--salt", "00" * 32, "--record", str(record)])
        == 1
    )
    wrong = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert wrong["registration.record"]["status"] == "failed"
    assert "does not commit to this personal record" in wrong["registration.record"]["detail"]
    # A receipt whose entry was edited fails its inclusion proof.
    text = campaign.receipt.replace("index 3", "index 4")
    rf.write_text(text)
    assert main([*args, "--trust", campaign.log_vkey]) == 1
    failed = [c for c in json.loads(capsys.readouterr().out)["checks"] if c["status"] == "failed"]
    assert failed and failed[0]["name"] == "receipt.inclusion"


def test_python_dash_m_audit(campaign: Campaign, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit",
            "verify",
            str(campaign.path),
            "--trust",
            *campaign.trust,
            "--witnesses",
            "2",
            "--previous",
            _previous(campaign, tmp_path),
            "--now",
            "1800000000",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VALID: all 16 checks passed." in proc.stdout
