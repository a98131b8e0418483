"""A fixture builder: a small, fully valid, deterministic campaign bundle for tests.

``build_campaign(tmp_path)`` logs registrations (salted record hashes), issues a checkpoint
and a receipt under it, then logs a complete draw transcript (roster, three witness commits,
reveals, a drand quicknet beacon, seed, result), runs the lottery engine, signs and cosigns
the final checkpoint and writes the bundle with ``audit.bundle.write_bundle``.

The beacon is a real published drand quicknet round (round 30662990, signature and randomness
as served by api.drand.sh for chain 52db9ba7...; the same facts the beacon tests use), so the
whole bundle verifies offline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import lottery
from audit import draw, note
from audit.bundle import DrawFiles, write_bundle
from audit.checkpoint import sign_checkpoint
from audit.cosignature import add_cosignature
from audit.log import LogBuilder
from audit.receipt import make_receipt
from audit.registration import registration_body

ORIGIN = "paiwei.example/wuxi-2026"
DRAW_ID = "wuxi-2026-junior-r1"
QUICKNET_ROUND = 30662990
QUICKNET_SIG = (
    "8b2ebe176d153849d5db7f358a3a21be96f8c5d1c26ed2b530fff4419face890"
    "9d77f4ee6a211623e2432c30841411b5"
)
QUICKNET_RANDOMNESS = "aac361dad26f7e5f5c2460fa905ed6d4e2bf8d21ccb67bbe5100204475b56742"


def _unix(t: str) -> int:
    return int(datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


@dataclass
class Campaign:
    """Everything a test needs about the built bundle."""

    path: Path
    log_skey: str
    log_vkey: str
    witness_skeys: list[str]
    witness_vkeys: list[str]
    entries: list[bytes]
    checkpoint: str
    early_checkpoint: str
    receipt: str
    receipt_salt: bytes
    receipt_record: dict[str, object]
    secrets: list[bytes]
    instance: dict[str, object]
    trust: list[str] = field(default_factory=list)


def build_campaign(
    directory: Path,
    *,
    applicants: int = 24,
    revealing: tuple[int, ...] = (0, 1, 2),
    min_reveals: int = 2,
    cosigners: int = 2,
    witnessed_reveals: bool = True,
) -> Campaign:
    """Build and write a valid bundle into ``directory`` (which must not exist or be empty)."""
    log_skey, log_vkey = note.generate_key(ORIGIN, seed=hashlib.sha256(b"log").digest())
    w = [
        note.generate_key(f"notary.example/w{i}", seed=hashlib.sha256(b"w%d" % i).digest())
        for i in range(3)
    ]
    w_skeys, w_vkeys = [s for s, _ in w], [v for _, v in w]
    log = LogBuilder()
    schools = [
        {"id": "S1", "capacity": 5},
        {"id": "S2", "capacity": 6},
        {"id": "S3", "capacity": 8},
    ]
    apps: list[dict[str, object]] = []
    salts: list[bytes] = []
    records: list[dict[str, object]] = []
    for i in range(applicants):
        aid = f"A{i:04d}"
        choices = ["S1", "S2", "S3"][i % 3 :] + ["S1", "S2", "S3"][: i % 3]
        record: dict[str, object] = {"name": f"学生{i}", "id_number": f"32020120190101{i:04d}"}
        salt = hashlib.sha256(b"salt%d" % i).digest()
        body = registration_body(aid, choices, {"hukou": i % 2 == 0}, record, salt)
        log.append(f"2026-05-20T08:{i // 60:02d}:{i % 60:02d}Z", "registration", "service", body)
        apps.append({"id": aid, "choices": choices, "priority": {"S1": 1} if i % 5 == 0 else {}})
        salts.append(salt)
        records.append(record)
    early = sign_checkpoint(ORIGIN, log.size, log.root(), log_skey)
    early = add_cosignature(early, w_skeys[0], _unix("2026-05-21T00:00:00Z"))
    receipt = make_receipt(log.leaf_hashes, 3, log.entries[3], early)

    instance: dict[str, object] = {
        "format": "paiwei-instance/1",
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "schools": schools,
        "applicants": apps,
    }
    announced = {"source": "drand-quicknet", "round": QUICKNET_ROUND}
    roster = draw.roster_body(
        DRAW_ID, instance, beacon=announced, witnesses=w_vkeys, min_reveals=min_reveals
    )
    log.append("2026-06-01T08:00:00Z", "draw.roster", "officer", roster)
    digest = bytes.fromhex(str(roster["instance_sha256"]))
    secrets = [hashlib.sha256(b"secret%d" % i).digest() for i in range(3)]
    for i in range(3):
        c = draw.commit_note(DRAW_ID, digest, secrets[i], w_skeys[i])
        log.append(
            f"2026-06-01T08:1{i}:00Z",
            "draw.commit",
            f"witness:{i}",
            draw.commit_body(DRAW_ID, w_vkeys[i], c),
        )
    for i in revealing:
        r = draw.reveal_note(DRAW_ID, digest, secrets[i], w_skeys[i])
        log.append(
            f"2026-07-23T07:0{i}:00Z",
            "draw.reveal",
            f"witness:{i}",
            draw.reveal_body(DRAW_ID, w_vkeys[i], r),
        )
    # A witness cosigns the log right after the reveals, before the beacon round is published.
    after_reveals = sign_checkpoint(ORIGIN, log.size, log.root(), log_skey)
    after_reveals = add_cosignature(after_reveals, w_skeys[2], _unix("2026-07-23T07:30:00Z"))
    evidence = {"source": "drand-quicknet", "round": QUICKNET_ROUND, "signature": QUICKNET_SIG}
    value = bytes.fromhex(QUICKNET_RANDOMNESS)
    log.append(
        "2026-07-23T07:40:00Z", "draw.beacon", "officer", draw.beacon_body(DRAW_ID, evidence, value)
    )
    reveals = [(draw.witness_id(w_vkeys[i]), secrets[i]) for i in revealing]
    seed = draw.derive_seed(digest, value, reveals)
    missing = [draw.witness_id(w_vkeys[i]) for i in range(3) if i not in revealing]
    log.append(
        "2026-07-23T07:40:01Z",
        "draw.seed",
        "officer",
        draw.seed_body(DRAW_ID, seed, [k for k, _ in reveals], missing),
    )
    instance["seed"] = seed.hex()
    instance_bytes = lottery.canonical_json(instance) + b"\n"
    result = lottery.run(instance_bytes)
    log.append("2026-07-23T07:40:02Z", "draw.result", "officer", draw.result_body(DRAW_ID, result))

    checkpoint = sign_checkpoint(ORIGIN, log.size, log.root(), log_skey)
    for i in range(cosigners):
        checkpoint = add_cosignature(checkpoint, w_skeys[i], _unix("2026-07-23T08:00:00Z") + i)
    path = write_bundle(
        directory,
        origin=ORIGIN,
        entries=log.entries,
        checkpoint=checkpoint,
        draws={DRAW_ID: DrawFiles(instance_bytes, result)},
        log_vkey=log_vkey,
        witness_vkeys=w_vkeys,
        checkpoints=[early, after_reveals] if witnessed_reveals else [early],
    )
    return Campaign(
        path=path,
        log_skey=log_skey,
        log_vkey=log_vkey,
        witness_skeys=w_skeys,
        witness_vkeys=w_vkeys,
        entries=list(log.entries),
        checkpoint=checkpoint,
        early_checkpoint=early,
        receipt=receipt,
        receipt_salt=salts[3],
        receipt_record=records[3],
        secrets=secrets,
        instance=instance,
        trust=[log_vkey, *w_vkeys],
    )
