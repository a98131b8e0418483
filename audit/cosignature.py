"""C2SP tlog-cosignature ``cosignature/v1``: timestamped Ed25519 witness cosignatures.

A witness (here: a notary) cosigns a checkpoint it has checked to be an append-only extension
of the last one it cosigned. The cosigner's verifier key has signature type 0x04, so its key ID
is ``SHA-256(name || 0x0A || 0x04 || pubkey)[:4]``; the same Ed25519 key pair in Go
``PRIVATE+KEY`` form is used (as transparency-dev's ``NewSignerForCosignatureV1``). The signed
message is::

    cosignature/v1
    time <decimal seconds since the Unix epoch>
    <checkpoint body lines: origin, size, root>

and the signature line's blob is ``key ID (4) || uint64 BE timestamp || Ed25519 signature (64)``.
Extension lines of the checkpoint are not part of the cosigned message (the spec's
message is built from the checkpoint's origin, size and root lines only).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from audit import note
from audit.checkpoint import Checkpoint, checkpoint_text, parse_checkpoint
from audit.errors import MalformedError, VerificationError

__all__ = [
    "Cosignature",
    "add_cosignature",
    "cosign",
    "cosignature_message",
    "cosigner_vkey",
    "verify_cosignatures",
]


def cosigner_vkey(key: str) -> str:
    """The type-0x04 verifier key of a cosigner, from its skey or its Ed25519 (0x01) vkey."""
    if key.startswith("PRIVATE+KEY+"):
        signer = note.parse_signer_key(key)
        name, pub = signer.name, signer.public_key
    else:
        vk = note.parse_verifier_key(key)
        name, pub = vk.name, vk.public_key
    kid = note.key_id(name, note.ALG_COSIGNATURE_V1, pub)
    return note.VerifierKey(name, kid, note.ALG_COSIGNATURE_V1, pub).text


def cosignature_message(cp: Checkpoint, timestamp: int) -> bytes:
    """The bytes a cosigner signs: ``cosignature/v1\\ntime <t>\\n`` + origin, size, root lines."""
    if not isinstance(timestamp, int) or not 0 <= timestamp < 2**64:
        raise MalformedError(f"cosignature timestamp must be a uint64, got {timestamp!r}")
    body = checkpoint_text(cp.origin, cp.size, cp.root)
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who and when (seconds since the epoch, as the witness claims)."""

    name: str
    key_id: int
    timestamp: int


def cosign(signed_checkpoint: str, skey: str, timestamp: int) -> note.Signature:
    """A cosignature line (as a :class:`audit.note.Signature`) over a checkpoint note's body.

    Pure: the caller passes the time. The caller (the notary's ``cosign`` command) must first
    check the checkpoint extends its last cosigned one.
    """
    signer = note.parse_signer_key(skey)
    cp = parse_checkpoint(note.parse_note(signed_checkpoint).text)
    kid = note.key_id(signer.name, note.ALG_COSIGNATURE_V1, signer.public_key)
    sig = signer.sign_raw(cosignature_message(cp, timestamp))
    return note.Signature(signer.name, kid, struct.pack(">Q", timestamp) + sig)


def add_cosignature(signed_checkpoint: str, skey: str, timestamp: int) -> str:
    """The checkpoint note with this cosigner's line added (replacing an older one by it)."""
    parsed = note.parse_note(signed_checkpoint)
    line = cosign(signed_checkpoint, skey, timestamp)
    others = [s for s in parsed.signatures if (s.name, s.key_id) != (line.name, line.key_id)]
    return note.format_note(parsed.text, [*others, line])


def verify_cosignatures(
    signed_checkpoint: str, witness_vkeys: Sequence[str], *, now: int | None = None
) -> list[Cosignature]:
    """Verify every cosignature by a known witness; return the verified ones.

    Witness keys may be given as type-0x04 vkeys or as the witness's Ed25519 (0x01) vkey, from
    which the cosigner key is derived. Lines from unknown keys are ignored; a known witness's
    line that fails to verify raises (C2SP signed-note: "SHOULD reject the whole note"). With
    ``now``, a timestamp in the future is rejected.
    """
    parsed = note.parse_note(signed_checkpoint)
    cp = parse_checkpoint(parsed.text)
    known: dict[tuple[str, int], note.VerifierKey] = {}
    for v in witness_vkeys:
        ckey = note.parse_verifier_key(cosigner_vkey(v))
        known[(ckey.name, ckey.key_id)] = ckey
    found: list[Cosignature] = []
    for sig in parsed.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if len(sig.signature) != 8 + 64:
            raise VerificationError(
                f"cosignature by {sig.name} has the wrong length",
                expected="72 bytes after the key ID",
                found=f"{len(sig.signature)} bytes",
            )
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        if not key.verify_raw(cosignature_message(cp, timestamp), sig.signature[8:]):
            raise VerificationError(f"invalid cosignature by witness {sig.name}+{sig.key_id:08x}")
        if now is not None and timestamp > now:
            raise VerificationError(
                f"cosignature by witness {sig.name} is dated in the future",
                expected=f"at most {now}",
                found=timestamp,
            )
        if all(c.name != sig.name for c in found):
            found.append(Cosignature(sig.name, sig.key_id, int(timestamp)))
    return found
