"""audit: paiwei's tamper-evident log, publication bundle and offline verifier.

Pure core (no HTTP, no database, no clock, no global RNG): ``merkle`` (RFC 9162), ``note``
(C2SP signed notes, Go key formats), ``checkpoint`` and ``cosignature`` (C2SP tlog-checkpoint,
tlog-cosignature), ``proof`` (c2sp.org/tlog-proof@v1), ``log`` (paiwei-log/1 entries),
``registration``, ``draw`` (the draw transcript), ``beacon`` (public randomness), ``bundle``,
``verify``, ``receipt``. The edge is ``cli`` (``paiwei-audit`` / ``python -m audit``).
Formats: docs/log-format.md; the notary's view: docs/notary-guide.md.
"""
