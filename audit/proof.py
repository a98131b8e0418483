"""``c2sp.org/tlog-proof@v1``: a self-contained proof that one entry is in the log.

Format (C2SP tlog-proof; Go marshaller ``transparency-dev/merkle/proof/tlog_proof.go``)::

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>          (optional; unauthenticated)
    index <decimal leaf index>
    <base64 inclusion-proof hash, leaf level first>   (zero or more)
    <empty line>
    <the checkpoint note, verbatim, with log signature and cosignatures>

Verification (spec): compute the leaf hash (application-specific), check the log's signature on
the checkpoint, check witness cosignatures against a policy (here: at least ``min_witnesses``
distinct trusted witnesses), then check the inclusion proof against the checkpoint's root.

paiwei receipts put the entry's exact bytes in ``extra`` so a family's receipt is
self-contained; the leaf hash is recomputed from them (an altered ``extra`` fails the
inclusion proof).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from audit._b64 import b64decode_strict
from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.cosignature import verify_cosignatures
from audit.errors import MalformedError, VerificationError
from audit.merkle import HASH_SIZE, verify_inclusion

__all__ = ["HEADER", "TLogProof", "format_tlog_proof", "parse_tlog_proof", "verify_tlog_proof"]

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True, slots=True)
class TLogProof:
    """A parsed tlog-proof: leaf index, inclusion hashes, checkpoint note, optional extra data."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def format_tlog_proof(
    index: int, hashes: Sequence[bytes], checkpoint: str, extra: bytes | None = None
) -> str:
    """Serialise a proof exactly as the Go reference does."""
    if not isinstance(index, int) or not 0 <= index < 2**64:
        raise MalformedError(f"tlog-proof index must be a uint64, got {index!r}")
    out = [HEADER + "\n"]
    if extra is not None:
        out.append("extra " + base64.b64encode(extra).decode("ascii") + "\n")
    out.append(f"index {index}\n")
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise MalformedError(f"tlog-proof hash must be {HASH_SIZE} bytes, got {len(h)}")
        out.append(base64.b64encode(h).decode("ascii") + "\n")
    out.append("\n")
    out.append(checkpoint)
    return "".join(out)


def _b64(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except ValueError as exc:
        raise MalformedError(f"tlog-proof {what} is not base64: {text[:40]!r}") from exc


def parse_tlog_proof(text: str) -> TLogProof:
    """Parse a tlog-proof; raise MalformedError naming the line that is wrong."""
    lines = text.split("\n")
    if not lines or lines[0] != HEADER:
        raise MalformedError(f"tlog-proof: missing the header line {HEADER!r}")
    i = 1
    extra: bytes | None = None
    if i < len(lines) and lines[i].startswith("extra "):
        extra = _b64(lines[i][len("extra ") :], "extra data")
        i += 1
    if i >= len(lines) or not lines[i].startswith("index "):
        raise MalformedError("tlog-proof: missing the required 'index N' line")
    index_text = lines[i][len("index ") :]
    if not index_text.isascii() or not index_text.isdigit() or int(index_text) >= 2**64:
        raise MalformedError(f"tlog-proof: index {index_text!r} is not a valid uint64")
    i += 1
    hashes: list[bytes] = []
    while i < len(lines) and lines[i] != "":
        h = _b64(lines[i], f"hash on line {i + 1}")
        if len(h) != HASH_SIZE:
            raise MalformedError(
                f"tlog-proof: hash on line {i + 1} has length {len(h)}, expected {HASH_SIZE}"
            )
        hashes.append(h)
        i += 1
    if i >= len(lines):
        raise MalformedError("tlog-proof: missing the empty line before the checkpoint")
    checkpoint = "\n".join(lines[i + 1 :])
    if not checkpoint:
        raise MalformedError("tlog-proof: missing the checkpoint")
    return TLogProof(int(index_text), tuple(hashes), checkpoint, extra)


def verify_tlog_proof(
    proof: TLogProof,
    leaf_hash: bytes,
    log_vkeys: Sequence[str],
    *,
    witness_vkeys: Sequence[str] = (),
    min_witnesses: int = 0,
) -> Checkpoint:
    """Verify a tlog-proof for ``leaf_hash`` (spec steps 2-4); return the verified checkpoint."""
    cp = verify_checkpoint(proof.checkpoint, log_vkeys)
    if min_witnesses > 0:
        cosigs = verify_cosignatures(proof.checkpoint, witness_vkeys)
        if len(cosigs) < min_witnesses:
            raise VerificationError(
                "too few trusted witness cosignatures on the proof's checkpoint",
                expected=f"at least {min_witnesses}",
                found=len(cosigs),
            )
    verify_inclusion(leaf_hash, proof.index, cp.size, list(proof.hashes), cp.root)
    return cp
