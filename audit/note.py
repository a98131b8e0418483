"""C2SP signed notes with Ed25519 keys, in the key text formats of Go's ``sumdb/note``.

Theory of operation
-------------------
A signed note (C2SP ``signed-note``, tag signed-note/v1.0.0) is UTF-8 text ending in ``\\n``,
then one empty line, then one or more signature lines::

    <text ending in \\n>
    \\n
    — <key name> <base64(4-byte big-endian key ID || signature)>\\n

The text is split from the signatures at the *last* empty line. Key names are non-empty, contain
no whitespace and no ``+``. For Ed25519 (signature type 0x01) the key ID is
``SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]`` and the signature is Ed25519 over the
text bytes.

Key text formats (Go ``golang.org/x/mod/sumdb/note``):

- verifier key: ``<name>+<8 hex key ID>+<base64(0x01 || 32-byte public key)>``
- signer key:   ``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte Ed25519 seed)>``

Base64 can contain ``+``, so keys are split with a bounded ``split``.

Verification (C2SP signed-note §Verifying): signatures from unknown (name, key ID) pairs are
ignored; a known key whose signature fails rejects the whole note; a note with no verifying known
signature is rejected; more than 100 signature lines is malformed (as Go's ``note.Open``).

Verifier keys with other signature types (0x04 cosignatures, see :mod:`audit.cosignature`) are
parsed here too, so one key list can hold both; :func:`verify` only uses type 0x01 keys.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit._b64 import b64decode_strict
from audit.errors import KeyFormatError, MalformedError, VerificationError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Signature",
    "SignedNote",
    "Signer",
    "VerifierKey",
    "add_signature",
    "format_note",
    "generate_key",
    "is_valid_name",
    "key_id",
    "open_note",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign",
    "verifier_key_text",
    "verify",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
#: Go's note.Open rejects notes with more signature lines than this.
MAX_SIGNATURES = 100
_SIG_PREFIX = "— "  # em dash U+2014, space


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except ValueError as exc:
        raise KeyFormatError(f"{what}: {exc}") from exc


def is_valid_name(name: str) -> bool:
    """C2SP / Go ``isValidName``: non-empty, no whitespace, no ``+``."""
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() or unicodedata.category(ch) == "Zs" for ch in name)
    )


def key_id(name: str, alg: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || alg || public key)[:4]`` as a big-endian integer."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed verifier key: name, key ID, signature type and raw 32-byte Ed25519 public key."""

    name: str
    key_id: int
    alg: int
    public_key: bytes

    @property
    def text(self) -> str:
        """The key in ``<name>+<hex id>+<base64(alg || key)>`` form."""
        return f"{self.name}+{self.key_id:08x}+{_b64encode(bytes([self.alg]) + self.public_key)}"

    def verify_raw(self, message: bytes, signature: bytes) -> bool:
        """Ed25519 verification of ``signature`` over ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A parsed Ed25519 signer key (Go ``PRIVATE+KEY+...`` format)."""

    name: str
    key_id: int
    seed: bytes

    @property
    def public_key(self) -> bytes:
        return _public_from_seed(self.seed)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.key_id, ALG_ED25519, self.public_key)

    def sign_raw(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def _public_from_seed(seed: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def generate_key(name: str, *, seed: bytes | None = None) -> tuple[str, str]:
    """Make an Ed25519 key pair; return ``(skey, vkey)`` in Go ``sumdb/note`` text form.

    ``seed`` (32 bytes) makes the key deterministic, for test fixtures; by default the seed comes
    from the operating system's CSPRNG (via ``cryptography``).
    """
    if not is_valid_name(name):
        raise KeyFormatError(
            f"key name {name!r} is invalid: it must be non-empty, without spaces or '+'"
        )
    if seed is None:
        raw = Ed25519PrivateKey.generate().private_bytes_raw()
    else:
        if len(seed) != 32:
            raise KeyFormatError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
        raw = bytes(seed)
    pub = _public_from_seed(raw)
    kid = key_id(name, ALG_ED25519, pub)
    skey = f"PRIVATE+KEY+{name}+{kid:08x}+{_b64encode(bytes([ALG_ED25519]) + raw)}"
    vkey = f"{name}+{kid:08x}+{_b64encode(bytes([ALG_ED25519]) + pub)}"
    return skey, vkey


def _parse_hex_id(text: str, what: str) -> int:
    if len(text) != 8 or any(c not in "0123456789abcdef" for c in text):
        raise KeyFormatError(f"{what}: key ID {text!r} must be 8 lowercase hex digits")
    return int(text, 16)


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Parse ``<name>+<hex id>+<base64(alg || pubkey)>``; the key ID must match the key."""
    if not isinstance(vkey, str):
        raise KeyFormatError("verifier key must be a string")
    vkey = vkey.strip()
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError(f"verifier key {vkey!r}: expected <name>+<hex id>+<base64 key>")
    name, hex_id, b64 = parts
    if not is_valid_name(name):
        raise KeyFormatError(f"verifier key {vkey!r}: invalid key name {name!r}")
    kid = _parse_hex_id(hex_id, f"verifier key {name}")
    raw = _b64decode(b64, f"verifier key {name}")
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise KeyFormatError(
            f"verifier key {name}: expected type 0x01 (Ed25519) or 0x04 (Ed25519 cosignature) "
            f"and a 32-byte public key, got {len(raw)} bytes"
            + (f" of type 0x{raw[0]:02x}" if raw else "")
        )
    alg, pub = raw[0], raw[1:]
    if key_id(name, alg, pub) != kid:
        raise KeyFormatError(
            f"verifier key {name}: key ID {hex_id} does not match the key "
            f"(computed {key_id(name, alg, pub):08x})"
        )
    try:
        Ed25519PublicKey.from_public_bytes(pub)
    except ValueError as exc:
        raise KeyFormatError(f"verifier key {name}: not an Ed25519 public key") from exc
    return VerifierKey(name, kid, alg, pub)


def parse_signer_key(skey: str) -> Signer:
    """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``; the key ID must match."""
    if not isinstance(skey, str):
        raise KeyFormatError("signer key must be a string")
    skey = skey.strip()
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise KeyFormatError("signer key: expected PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    _, _, name, hex_id, b64 = parts
    if not is_valid_name(name):
        raise KeyFormatError(f"signer key: invalid key name {name!r}")
    kid = _parse_hex_id(hex_id, f"signer key {name}")
    raw = _b64decode(b64, f"signer key {name}")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError(f"signer key {name}: expected type 0x01 and a 32-byte Ed25519 seed")
    seed = raw[1:]
    if key_id(name, ALG_ED25519, _public_from_seed(seed)) != kid:
        raise KeyFormatError(f"signer key {name}: key ID {hex_id} does not match the key")
    return Signer(name, kid, seed)


def verifier_key_text(skey: str) -> str:
    """The verifier key (``<name>+<id>+<base64>``) belonging to a signer key."""
    return parse_signer_key(skey).verifier.text


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: key name, key ID and the signature bytes (after the 4-byte ID)."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        blob = struct.pack(">I", self.key_id) + self.signature
        return f"{_SIG_PREFIX}{self.name} {_b64encode(blob)}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A parsed note: its text and all its signature lines (verified or not)."""

    text: str
    signatures: tuple[Signature, ...]


def _check_text(text: str) -> None:
    if not text or not text.endswith("\n"):
        raise MalformedError("malformed note: text must be non-empty and end with a newline")
    for ch in text:
        if ch != "\n" and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            raise MalformedError(f"malformed note: control character U+{ord(ch):04X} in text")


def parse_note(note: str | bytes) -> SignedNote:
    """Split a note into text and signature lines (C2SP signed-note), without verifying."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError("malformed note: not valid UTF-8") from exc
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedError("malformed note: no empty line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    if not block or not block.endswith("\n"):
        raise MalformedError(
            "malformed note: signature block must be non-empty lines ending in newline"
        )
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    sigs: list[Signature] = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise MalformedError(f"malformed note: signature line {n} does not start with '— '")
        rest = line[len(_SIG_PREFIX) :]
        name, sep, b64 = rest.partition(" ")
        if not sep or not is_valid_name(name) or " " in b64:
            raise MalformedError(f"malformed note: signature line {n} is not '— <name> <base64>'")
        try:
            blob = b64decode_strict(b64)
        except ValueError as exc:
            raise MalformedError(f"malformed note: signature line {n} is not valid base64") from exc
        if len(blob) < 5:
            raise MalformedError(f"malformed note: signature line {n} is too short")
        sigs.append(Signature(name, int(struct.unpack(">I", blob[:4])[0]), blob[4:]))
    return SignedNote(text, tuple(sigs))


def _key_index(vkeys: Sequence[str | VerifierKey]) -> dict[tuple[str, int], VerifierKey]:
    index: dict[tuple[str, int], VerifierKey] = {}
    for v in vkeys:
        key = v if isinstance(v, VerifierKey) else parse_verifier_key(v)
        other = index.get((key.name, key.key_id))
        if other is not None and other != key:
            raise KeyFormatError(f"ambiguous key {key.name}+{key.key_id:08x}")
        index[(key.name, key.key_id)] = key
    return index


def open_note(
    note: str | bytes, vkeys: Sequence[str | VerifierKey]
) -> tuple[SignedNote, list[VerifierKey]]:
    """Parse and verify a note; return it and the Ed25519 (type 0x01) keys whose signature verified.

    Unknown keys are ignored; a known key with a bad signature raises; no verified signature
    raises (C2SP signed-note §Verifying).
    """
    parsed = parse_note(note)
    known = {k: v for k, v in _key_index(vkeys).items() if v.alg == ALG_ED25519}
    message = parsed.text.encode("utf-8")
    verified: list[VerifierKey] = []
    for sig in parsed.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify_raw(message, sig.signature):
            raise VerificationError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        if key not in verified:
            verified.append(key)
    if not verified:
        names = ", ".join(sorted({f"{n}+{i:08x}" for n, i in known})) or "none"
        present = ", ".join(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures)
        raise VerificationError(
            "note has no verifiable signatures", expected=f"one of: {names}", found=present
        )
    return parsed, verified


def verify(note: str, vkeys: Sequence[str]) -> str:
    """Verify a signed note against verifier keys; return its text (C2SP signed-note)."""
    parsed, _ = open_note(note, vkeys)
    return parsed.text


def sign(text: str, skey: str) -> str:
    """Sign ``text`` with a Go-format Ed25519 signer key; return the signed note.

    The text must be non-empty, end in a newline, hold no control characters other than
    newline and -- so that the split at the last empty line is unambiguous -- no empty line.
    """
    signer = parse_signer_key(skey)
    _check_text(text)
    if "\n\n" in text:
        raise MalformedError("malformed note: text to sign must not contain an empty line")
    sig = Signature(signer.name, signer.key_id, signer.sign_raw(text.encode("utf-8")))
    return text + "\n" + sig.line


def add_signature(note: str, skey: str) -> str:
    """Add this key's signature to an existing note, replacing one by the same key (as Go)."""
    signer = parse_signer_key(skey)
    parsed = parse_note(note)
    sig = Signature(signer.name, signer.key_id, signer.sign_raw(parsed.text.encode("utf-8")))
    others = [s for s in parsed.signatures if (s.name, s.key_id) != (signer.name, signer.key_id)]
    return format_note(parsed.text, [*others, sig])


def format_note(text: str, signatures: Sequence[Signature]) -> str:
    """Serialise a note: text, empty line, one line per signature."""
    _check_text(text)
    if not signatures:
        raise MalformedError("malformed note: a note needs at least one signature")
    return text + "\n" + "".join(s.line for s in signatures)
