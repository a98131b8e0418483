"""Signed notes, checkpoints and cosignatures.

Published vectors (facts, cited):
- golang.org/x/mod ``sumdb/note/note_test.go``
  (https://github.com/golang/mod/blob/master/sumdb/note/note_test.go): the PeterNeumann and
  EnochRoot keys, the signed "If you think cryptography..." note, and its malformed variants.
- C2SP tlog-checkpoint v1.0.0 example checkpoint and C2SP tlog-cosignature example line
  (https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md, tlog-cosignature.md): format only,
  no public keys are published for them.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import note
from audit.checkpoint import checkpoint_text, parse_checkpoint, sign_checkpoint, verify_checkpoint
from audit.cosignature import add_cosignature, cosigner_vkey, verify_cosignatures
from audit.errors import KeyFormatError, MalformedError, VerificationError
from audit.merkle import EMPTY_ROOT

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnW"
    "Lox33WWd1RvMc+QQ=\n"
)


def test_go_sign_vector() -> None:
    assert note.sign(TEXT, PETER_SKEY) == TEXT + "\n" + PETER_SIG


def test_go_keys_parse_and_match() -> None:
    assert note.verifier_key_text(PETER_SKEY) == PETER_VKEY
    vk = note.parse_verifier_key(PETER_VKEY)
    assert (vk.name, vk.key_id, vk.alg) == ("PeterNeumann", 0xC74F20A3, 1)
    assert note.parse_verifier_key(ENOCH_VKEY).key_id == 0xAF0CFE78


def test_go_open_vectors() -> None:
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert note.verify(both, [PETER_VKEY]) == TEXT  # unknown Enoch line is ignored
    _, verified = note.open_note(both, [PETER_VKEY, ENOCH_VKEY])
    assert [k.name for k in verified] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        note.verify(both, [])
    bad = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(
        VerificationError, match="invalid signature for key PeterNeumann\\+c74f20a3"
    ):
        note.verify(bad, [PETER_VKEY])
    with pytest.raises(MalformedError, match="more than 100"):
        note.verify(TEXT + "\n" + PETER_SIG * 101, [PETER_VKEY])


@pytest.mark.parametrize(
    "msg",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvq"
        "fqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_go_malformed_notes(msg: str) -> None:
    with pytest.raises(MalformedError):
        note.verify(msg, [PETER_VKEY])


def test_go_bad_keys() -> None:
    # From TestNewVerifier: wrong-length key with adjusted hash, unknown algorithm.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(KeyFormatError):
            note.parse_verifier_key(bad)
    # Every single-character increment of the key must be rejected (as Go's test does).
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(KeyFormatError):
            note.parse_verifier_key(mangled)
    for i in range(len(PETER_SKEY)):
        mangled = PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1 :]
        with pytest.raises(KeyFormatError):
            note.parse_signer_key(mangled)


def test_generate_key_roundtrip() -> None:
    skey, vkey = note.generate_key("notary.example/zhang", seed=bytes(range(32)))
    assert skey.startswith("PRIVATE+KEY+notary.example/zhang+")
    assert note.verifier_key_text(skey) == vkey
    assert note.verify(note.sign("hello\n", skey), [vkey]) == "hello\n"
    with pytest.raises(KeyFormatError, match="invalid"):
        note.generate_key("has space")


def test_sign_rejects_empty_lines_and_missing_newline() -> None:
    with pytest.raises(MalformedError, match="empty line"):
        note.sign("a\n\nb\n", PETER_SKEY)
    with pytest.raises(MalformedError, match="newline"):
        note.sign("abc", PETER_SKEY)


def test_c2sp_checkpoint_example_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    signed = (
        text
        + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7"
        "u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    )
    parsed = note.parse_note(signed)
    cp = parse_checkpoint(parsed.text)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint_text(cp.origin, cp.size, cp.root) == text
    assert len(parsed.signatures[0].signature) == 64


def test_c2sp_cosignature_example_line_decodes() -> None:
    line = (
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrD"
        "JsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    sig = note.parse_note("x\n\n" + line).signatures[0]
    assert sig.key_id == 0x8D66CF3F
    assert int.from_bytes(sig.signature[:8], "big") == 1679315147
    assert len(sig.signature) == 72


@pytest.mark.parametrize(
    "text",
    [
        "o\n01\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "o\n1\nAAAA\n",
        "o\n1\n",
        "o\n-1\nx\n",
    ],
)
def test_bad_checkpoints(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_checkpoint(text)


def _log_keys() -> tuple[str, str]:
    return note.generate_key("paiwei.example/log", seed=b"\x01" * 32)


def test_checkpoint_sign_and_cosign() -> None:
    skey, vkey = _log_keys()
    w_skey, w_vkey = note.generate_key("notary.example/w1", seed=b"\x02" * 32)
    signed = sign_checkpoint("paiwei.example/log", 7, EMPTY_ROOT, skey)
    cp = verify_checkpoint(signed, [vkey])
    assert cp.size == 7
    cosigned = add_cosignature(signed, w_skey, 1_780_000_000)
    assert verify_checkpoint(cosigned, [vkey]) == cp  # the log signature still verifies
    found = verify_cosignatures(cosigned, [w_vkey])
    assert [(c.name, c.timestamp) for c in found] == [("notary.example/w1", 1_780_000_000)]
    assert verify_cosignatures(cosigned, [cosigner_vkey(w_vkey)]) == found
    with pytest.raises(VerificationError, match="future"):
        verify_cosignatures(cosigned, [w_vkey], now=1_700_000_000)
    with pytest.raises(MalformedError, match="origin"):
        sign_checkpoint("other.example/log", 7, EMPTY_ROOT, skey)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_any_byte_change_to_a_cosigned_checkpoint_is_rejected(data: st.DataObject) -> None:
    skey, vkey = _log_keys()
    w_skey, w_vkey = note.generate_key("notary.example/w1", seed=b"\x02" * 32)
    signed = add_cosignature(sign_checkpoint("paiwei.example/log", 7, EMPTY_ROOT, skey), w_skey, 99)
    raw = bytearray(signed.encode())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = (raw[pos] + data.draw(st.integers(1, 255))) % 256
    changed = bytes(raw)
    # Both the log signature and the cosignature must still hold for it to be accepted.
    with pytest.raises(VerificationError):
        verify_checkpoint(changed, [vkey])
        if not verify_cosignatures(changed.decode(), [w_vkey]):
            raise VerificationError("cosignature missing")


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_any_byte_change_to_a_signed_note_is_rejected(data: st.DataObject) -> None:
    signed = TEXT + "\n" + PETER_SIG
    raw = bytearray(signed.encode())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = (raw[pos] + data.draw(st.integers(1, 255))) % 256
    with pytest.raises(VerificationError):
        note.open_note(bytes(raw), [PETER_VKEY])
