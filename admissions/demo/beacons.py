"""Real drand quicknet rounds the demo can use offline (facts, not code).

The demo machine may be offline, and a real campaign announces a round that does not exist yet,
so the demo cannot fetch a future round. Instead it uses two rounds that were really published
by the League of Entropy's quicknet chain (52db9ba7...e971) on 2026-07-23, and holds its
ceremony *before* their publication time on the demo clock: in the demo's timeline the rounds
are announced while still in the future, exactly as a real officer would announce them. Their
signatures are checked offline against quicknet's pinned public key by ``audit.beacon`` (by the
service when the officer enters them, and again by ``paiwei-audit verify``), so nothing about
them is simulated. Values as served by api.drand.sh and used by tests/audit/test_beacon.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuicknetRound:
    round: int
    signature: str  # hex, 48-byte BLS signature on G1
    randomness: str  # hex SHA-256(signature)


PRIVATE_ROUND = QuicknetRound(
    30662982,
    "8b3edd0d42a2fa36ac15641a2dea2e4f4895acec2ef72ef39e5b6138f0346fb6"
    "b046dde1b4b3d09ff5fe8a6a7acd674a",
    "ae76da5137c6d0a0d3b50d325948b26cc3ff1f804cd7bbca29b9250c2bfe8d67",
)
PUBLIC_ROUND = QuicknetRound(
    30662990,
    "8b2ebe176d153849d5db7f358a3a21be96f8c5d1c26ed2b530fff4419face890"
    "9d77f4ee6a211623e2432c30841411b5",
    "aac361dad26f7e5f5c2460fa905ed6d4e2bf8d21ccb67bbe5100204475b56742",
)
