"""Draw transcript helpers and registration entries."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from audit import draw, note
from audit.errors import MalformedError, VerificationError
from audit.registration import check_record, record_digest, registration_body

INSTANCE = {
    "format": "paiwei-instance/1",
    "seed": "00" * 32,
    "mechanism": "deferred-acceptance",
    "tie_breaking": "single",
    "group_policy": "all-or-none",
    "schools": [{"id": "S1", "capacity": 1}],
    "applicants": [{"id": "A1", "choices": ["S1"]}, {"id": "A2", "choices": ["S1"]}],
}


def test_hkdf_extract_rfc5869_case_1() -> None:
    # RFC 5869 Appendix A.1 (Test Case 1): Hash = SHA-256.
    salt = bytes(range(13))
    ikm = b"\x0b" * 22
    prk = "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    assert draw.hkdf_extract(salt, ikm).hex() == prk


def test_derive_seed_layout_and_order() -> None:
    digest = hashlib.sha256(b"roster").digest()
    a, b = b"\x01" * 32, b"\x02" * 32
    ikm = (
        len(b"beacon").to_bytes(4, "big")
        + b"beacon"
        + (32).to_bytes(4, "big")
        + b
        + (32).to_bytes(4, "big")
        + a
    )
    want = hmac.new(digest, ikm, hashlib.sha256).digest()
    # ordered by key id inside: "0000000a" < "ffffffff"
    assert draw.derive_seed(digest, b"beacon", [("ffffffff", a), ("0000000a", b)]) == want
    assert draw.derive_seed(digest, b"beacon", [("0000000a", b), ("ffffffff", a)]) == want
    with pytest.raises(MalformedError, match="twice"):
        draw.derive_seed(digest, b"x", [("0000000a", a), ("0000000a", b)])
    with pytest.raises(MalformedError, match="32 bytes"):
        draw.derive_seed(digest, b"x", [("0000000a", b"short")])
    with pytest.raises(MalformedError, match="roster digest"):
        draw.derive_seed(b"x", b"x", [])


def test_instance_digest_ignores_seed() -> None:
    other = dict(INSTANCE, seed="11" * 32)
    assert draw.instance_digest(INSTANCE) == draw.instance_digest(other)
    without = {k: v for k, v in INSTANCE.items() if k != "seed"}
    assert draw.instance_digest(INSTANCE) == draw.instance_digest(without)
    assert draw.instance_digest(
        dict(INSTANCE, mechanism="preference-rounds")
    ) != draw.instance_digest(INSTANCE)


def test_commit_reveal_roundtrip() -> None:
    skey, vkey = note.generate_key("notary.example/li", seed=b"\x07" * 32)
    digest = draw.instance_digest(INSTANCE)
    secret = b"\x09" * 32
    c = draw.commit_note("d1", digest, secret, skey)
    r = draw.reveal_note("d1", digest, secret, skey)
    cb, rb = draw.commit_body("d1", vkey, c), draw.reveal_body("d1", vkey, r)
    assert cb["witness"] == rb["witness"] == draw.witness_id(vkey)
    pc = draw.parse_witness_note(c, vkey, kind="commit")
    pr = draw.parse_witness_note(r, vkey, kind="reveal")
    assert pc.value == hashlib.sha256(secret).digest() and pr.value == secret
    draw.verify_reveal_matches(pc, pr)
    other = draw.parse_witness_note(
        draw.reveal_note("d1", digest, b"\x08" * 32, skey), vkey, kind="reveal"
    )
    with pytest.raises(VerificationError, match="differs from the commitment"):
        draw.verify_reveal_matches(pc, other)
    with pytest.raises(MalformedError, match="another draw"):
        draw.commit_body("d2", vkey, c)
    _, stranger = note.generate_key("notary.example/wang", seed=b"\x08" * 32)
    with pytest.raises(VerificationError):
        draw.parse_witness_note(c, stranger, kind="commit")


def test_roster_body() -> None:
    keys = [note.generate_key(f"w{i}", seed=bytes([i]) * 32)[1] for i in range(3)]
    body = draw.roster_body(
        "2026-primary-r1",
        INSTANCE,
        beacon={"source": "drand-quicknet", "round": 1},
        witnesses=keys,
        min_reveals=2,
    )
    assert body["instance_sha256"] == draw.instance_digest(INSTANCE).hex()
    assert body["applicants"] == 2 and body["schools"] == 1
    ids = [draw.witness_id(k) for k in body["witnesses"]]  # type: ignore[attr-defined]
    assert ids == sorted(ids)
    with pytest.raises(MalformedError, match="min_reveals"):
        draw.roster_body("d", INSTANCE, beacon={}, witnesses=keys, min_reveals=4)
    with pytest.raises(MalformedError, match="draw id"):
        draw.roster_body("../etc", INSTANCE, beacon={}, witnesses=keys, min_reveals=1)


def test_result_body_counts() -> None:
    result = (
        b'{"assignments":{"A1":{"choice":1,"school":"S1"},"A2":null},"format":"paiwei-result/1",'
        b'"instance_sha256":"ab","schools":{"S1":{"admitted":["A1"],"waitlist":["A2"]}}}\n'
    )
    body = draw.result_body("d1", result)
    assert body["result_sha256"] == hashlib.sha256(result[:-1]).hexdigest()
    assert body["counts"] == {"S1": {"admitted": 1, "waitlist": 1}}
    assert (body["applicants"], body["placed"]) == (2, 1)


def test_registration_hides_and_binds_the_record() -> None:
    record = {"name": "张三", "id_number": "110101201901010011"}
    salt = b"\x11" * 32
    body = registration_body("2026-000123", ["S1", "S2"], {"hukou": True}, record, salt)
    assert "张三" not in str(body) and "110101" not in str(body)
    assert body["record_sha256"] == record_digest(record, salt).hex()
    check_record(body, record, salt)
    with pytest.raises(VerificationError, match="does not commit"):
        check_record(body, dict(record, name="李四"), salt)
    with pytest.raises(VerificationError):
        check_record(body, record, b"\x12" * 32)
