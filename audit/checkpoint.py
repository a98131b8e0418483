"""C2SP tlog-checkpoint (tag tlog-checkpoint/v1.0.0): the signed tree head of the log.

The checkpoint body (note text) is three lines -- origin, tree size in ASCII decimal without
leading zeros, base64 of the RFC 9162 root hash -- optionally followed by non-empty extension
lines. It is signed as a C2SP signed note by the log key, whose name is the origin
(Go ``transparency-dev/formats/log`` marshals it as ``"%s\\n%d\\n%s\\n"``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from audit import note
from audit.errors import MalformedError, VerificationError
from audit.merkle import HASH_SIZE

__all__ = [
    "Checkpoint",
    "checkpoint_text",
    "parse_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint",
]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return checkpoint_text(self.origin, self.size, self.root) + "".join(
            e + "\n" for e in self.extensions
        )


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The checkpoint body: ``origin\\nsize\\nbase64(root)\\n``."""
    if not origin or "\n" in origin:
        raise MalformedError(f"checkpoint origin {origin!r} must be a non-empty single line")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedError(f"checkpoint size must be a non-negative integer, got {size!r}")
    if len(root) != HASH_SIZE:
        raise MalformedError(f"checkpoint root must be {HASH_SIZE} bytes, got {len(root)}")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, skey: str) -> str:
    """A checkpoint signed by the log key; the key's name must equal the origin."""
    signer = note.parse_signer_key(skey)
    if signer.name != origin:
        raise MalformedError(
            "log key name must equal the checkpoint origin", expected=origin, found=signer.name
        )
    return note.sign(checkpoint_text(origin, size, root), skey)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (the note text, not the signatures)."""
    if not text.endswith("\n"):
        raise MalformedError("checkpoint: text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError(f"checkpoint: needs at least 3 lines, got {len(lines)}")
    origin, size_text, root_text, *ext = lines
    if not origin:
        raise MalformedError("checkpoint: empty origin line")
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text != "0" and size_text.startswith("0"))
    ):
        raise MalformedError(
            f"checkpoint: size {size_text!r} is not a decimal without leading zeros"
        )
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedError(f"checkpoint: root {root_text!r} is not base64") from exc
    if len(root) != HASH_SIZE or base64.b64encode(root).decode("ascii") != root_text:
        raise MalformedError(f"checkpoint: root must be base64 of {HASH_SIZE} bytes")
    for e in ext:
        if not e:
            raise MalformedError("checkpoint: empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(ext))


def verify_checkpoint(signed: str | bytes, log_vkeys: Sequence[str]) -> Checkpoint:
    """Verify the log's signature on a checkpoint note and parse it.

    The signature must come from a trusted key whose name is the checkpoint's origin
    (tlog-checkpoint: "the key name SHOULD be the origin"; we require it).
    """
    parsed, verified = note.open_note(signed, log_vkeys)
    cp = parse_checkpoint(parsed.text)
    if not any(k.name == cp.origin for k in verified):
        raise VerificationError(
            "checkpoint is not signed by a trusted key named after its origin",
            expected=cp.origin,
            found=", ".join(k.name for k in verified),
        )
    return cp
