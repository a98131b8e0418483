"""c2sp.org/tlog-proof@v1.

Marshal vectors from transparency-dev/merkle ``proof/tlog_proof_test.go`` (TestNewTLogProof,
TestVerifyTLogProofErrors), https://github.com/transparency-dev/merkle/blob/main/proof/tlog_proof_test.go.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import note
from audit.checkpoint import sign_checkpoint
from audit.cosignature import add_cosignature
from audit.errors import MalformedError, VerificationError
from audit.merkle import inclusion_proof, leaf_hash, root
from audit.proof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof


def test_go_marshal_vectors() -> None:
    assert (
        format_tlog_proof(0, [], "checkpoint\n")
        == "c2sp.org/tlog-proof@v1\nindex 0\n\ncheckpoint\n"
    )
    h1 = hashlib.sha256(b"hash1").digest()
    extra = base64.b64encode(b"extra information").decode()
    assert (
        format_tlog_proof(10, [h1], "checkpoint data\n", b"extra information")
        == f"c2sp.org/tlog-proof@v1\nextra {extra}\nindex 10\n{base64.b64encode(h1).decode()}"
        "\n\ncheckpoint data\n"
    )
    parsed = parse_tlog_proof(
        format_tlog_proof(10, [h1], "checkpoint data\n", b"extra information")
    )
    assert (parsed.index, parsed.hashes, parsed.extra) == (10, (h1,), b"extra information")
    assert parsed.checkpoint == "checkpoint data\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wrong-header\nindex 0\n\ncheckpoint\n", "header"),
        ("c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0\n\ncheckpoint\n", "not base64"),
        ("c2sp.org/tlog-proof@v1\n\n\ncheckpoint\n", "index"),
        ("c2sp.org/tlog-proof@v1\nindex notanumber\n\ncheckpoint\n", "uint64"),
        ("c2sp.org/tlog-proof@v1\nindex -5\n\ncheckpoint\n", "uint64"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\ncheckpoint\n", "not base64"),
        (
            "c2sp.org/tlog-proof@v1\nindex 0\n"
            + base64.b64encode(bytes(64)).decode()
            + "\n\ncheckpoint\n",
            "length",
        ),
    ],
)
def test_go_error_vectors(text: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        parse_tlog_proof(text)


def _setup() -> tuple[str, str, str, list[bytes], list[bytes]]:
    skey, vkey = note.generate_key("paiwei.example/log", seed=b"\x05" * 32)
    w_skey, w_vkey = note.generate_key("notary.example/w", seed=b"\x06" * 32)
    entries = [f"entry {i}".encode() for i in range(13)]
    leaves = [leaf_hash(e) for e in entries]
    cp = add_cosignature(sign_checkpoint("paiwei.example/log", 13, root(leaves), skey), w_skey, 5)
    return vkey, w_vkey, cp, entries, leaves


def test_roundtrip_and_verify() -> None:
    vkey, w_vkey, cp, entries, leaves = _setup()
    for i in range(13):
        text = format_tlog_proof(i, inclusion_proof(leaves, i), cp, entries[i])
        proof = parse_tlog_proof(text)
        assert proof.extra == entries[i]
        verify_tlog_proof(
            proof, leaf_hash(entries[i]), [vkey], witness_vkeys=[w_vkey], min_witnesses=1
        )
    with pytest.raises(VerificationError, match="too few"):
        verify_tlog_proof(proof, leaf_hash(entries[12]), [vkey], witness_vkeys=[], min_witnesses=1)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_byte_change_to_a_proof_file_is_rejected(data: st.DataObject) -> None:
    vkey, w_vkey, cp, entries, leaves = _setup()
    i = data.draw(st.integers(0, 12))
    raw = bytearray(format_tlog_proof(i, inclusion_proof(leaves, i), cp, entries[i]).encode())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = (raw[pos] + data.draw(st.integers(1, 255))) % 256
    with pytest.raises(VerificationError):
        try:
            proof = parse_tlog_proof(raw.decode())
        except UnicodeDecodeError as exc:
            raise MalformedError("not UTF-8") from exc
        assert proof.extra is not None
        verify_tlog_proof(
            proof, leaf_hash(proof.extra), [vkey], witness_vkeys=[w_vkey], min_witnesses=1
        )
