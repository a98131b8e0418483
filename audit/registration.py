"""Registration entries: what the log records about an application, without personal data.

A ``registration`` entry's body is ``{"application": <application number>, "choices": [school
ids], "claims": {...}, "record_sha256": hex}`` where
``record_sha256 = SHA-256(salt || RFC 8785(personal record))`` and the 32-byte ``salt`` is given
only to the family (on their receipt). Without the salt the hash cannot be tested against
guessed names or ID numbers; with it, the family (or a court) can show that the logged
registration is theirs. See docs/log-format.md §Registration.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from audit._canon import canonical_json
from audit.errors import MalformedError, VerificationError

__all__ = ["SALT_SIZE", "check_record", "record_digest", "registration_body"]

SALT_SIZE = 32


def record_digest(record: Mapping[str, object], salt: bytes) -> bytes:
    """``SHA-256(salt || RFC 8785(record))`` for a 32-byte salt."""
    if len(salt) != SALT_SIZE:
        raise MalformedError(f"salt must be {SALT_SIZE} bytes, got {len(salt)}")
    if not isinstance(record, Mapping):
        raise MalformedError("personal record must be a JSON object")
    return hashlib.sha256(bytes(salt) + canonical_json(dict(record))).digest()


def registration_body(
    application: str,
    choices: Sequence[str],
    claims: Mapping[str, object],
    record: Mapping[str, object],
    salt: bytes,
) -> dict[str, object]:
    """Body of a ``registration`` entry (no personal data: only the salted record hash)."""
    if not isinstance(application, str) or not application:
        raise MalformedError("application: must be a non-empty string")
    if not all(isinstance(c, str) and c for c in choices):
        raise MalformedError("choices: must be non-empty school id strings")
    if not isinstance(claims, Mapping):
        raise MalformedError("claims: must be a JSON object")
    return {
        "application": application,
        "choices": list(choices),
        "claims": dict(claims),
        "record_sha256": record_digest(record, salt).hex(),
    }


def check_record(body: Mapping[str, object], record: Mapping[str, object], salt: bytes) -> None:
    """Check that a logged registration body commits to this record under this salt."""
    want = record_digest(record, salt)
    found = body.get("record_sha256")
    if not isinstance(found, str) or not hmac.compare_digest(found, want.hex()):
        raise VerificationError(
            "registration does not commit to this personal record and salt",
            expected=want.hex(),
            found=found,
        )
