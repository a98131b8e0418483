"""Errors of the audit package."""


class VerificationError(Exception):
    """A verification failed; the message says what was expected and what was found."""
