"""The audit package's exceptions.

One hierarchy, translated at the boundary: low-level failures (``cryptography``'s
``InvalidSignature``, ``binascii.Error``, ``ValueError`` from parsing) are caught where they
happen and re-raised as one of these, carrying what was expected and what was found.

- :class:`AuditError` -- base of everything this package raises on purpose.
- :class:`VerificationError` -- a check failed: a proof, a signature, a digest, a format.
  Verifiers raise it; they never return ``False``.
- :class:`MalformedError` -- a ``VerificationError`` for input that does not even parse
  (a note, a checkpoint, a proof file, a log entry).
- :class:`KeyFormatError` -- a key string or file that cannot be used (not a verification
  failure: the verifier's own configuration is wrong).
"""

from __future__ import annotations

__all__ = ["AuditError", "KeyFormatError", "MalformedError", "VerificationError"]


class AuditError(Exception):
    """Base class of the audit package's errors."""


class VerificationError(AuditError):
    """A verification failed.

    ``str()`` names what was checked and the problem; ``expected`` and ``found`` carry the
    evidence when there is a single value to compare (hex for hashes).
    """

    def __init__(self, message: str, *, expected: object = None, found: object = None) -> None:
        self.message = message
        self.expected = expected
        self.found = found
        text = message
        if expected is not None or found is not None:
            text = f"{message} (expected {_show(expected)}, found {_show(found)})"
        super().__init__(text)


class MalformedError(VerificationError):
    """Input to a verifier does not have the required syntax."""


class KeyFormatError(AuditError, ValueError):
    """A signing or verifier key string is not in the expected text format."""


def _show(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex() if value else "<empty>"
    return str(value)
