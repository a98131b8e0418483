"""Public randomness beacons for the draw ceremony: drand quicknet and the welfare lottery.

Theory of operation
-------------------
The seed of a draw mixes the witnesses' revealed secrets with a *public randomness value* whose
source and round (or draw) were fixed in ``draw.roster`` before any secret was revealed
(docs/log-format.md, docs/beacon.md). This module turns the evidence an officer records in the
``draw.beacon`` entry into the beacon bytes that enter the seed derivation
(``audit.draw.derive_seed``), and checks that evidence as far as can be done offline:

* **drand quicknet** (League of Entropy, scheme ``bls-unchained-g1-rfc9380``): the round's BLS
  signature is verified offline against the pinned group public key; the beacon bytes are the
  round's 32-byte randomness ``SHA-256(signature)``. Nothing is fetched: the chain parameters are
  pinned here and never read from a ``/info`` endpoint at verification time.
* **China Welfare Lottery (中国福利彩票)**: the published numbers of one named official draw are
  validated against the game's rules and written down in the style of RFC 3797 §4 (numbers of a
  group sorted, each followed by ``.``, each group ended by ``/``), prefixed by the issuer, game
  and issue number; the beacon bytes are the UTF-8 of that string. That the numbers are the ones
  the issuer announced can only be checked by a person against the official announcement: it is
  recorded, not verified.

Everything is pure: no network, no clock, no randomness.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from py_arkworks_bls12381 import GT, G1Point, G2Point

from audit.errors import VerificationError

__all__ = [
    "CWL_GAMES",
    "CWL_ISSUER",
    "QUICKNET_CHAIN_HASH",
    "QUICKNET_DST",
    "QUICKNET_GENESIS_TIME",
    "QUICKNET_PERIOD",
    "QUICKNET_PUBLIC_KEY",
    "QUICKNET_SCHEME",
    "SOURCE_CWL",
    "SOURCE_QUICKNET",
    "CwlGame",
    "CwlGroup",
    "beacon_publication_time",
    "beacon_value",
    "check_announced",
    "cwl_string",
    "cwl_value",
    "quicknet_message",
    "quicknet_round_after",
    "quicknet_round_at",
    "quicknet_round_time",
    "rfc3797_key",
    "validate_announcement",
    "verify_quicknet",
]

# --------------------------------------------------------------------------------------------
# drand quicknet
# --------------------------------------------------------------------------------------------

SOURCE_QUICKNET: Final = "drand-quicknet"

#: Chain hash of quicknet (SHA-256 of its chain info), as served under
#: https://api.drand.sh/52db9ba7.../info and pinned by drand's own clients (tlock, drand-client).
QUICKNET_CHAIN_HASH: Final = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
#: Group public key, a compressed BLS12-381 G2 point (96 bytes).
QUICKNET_PUBLIC_KEY: Final = bytes.fromhex(
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
QUICKNET_SCHEME: Final = "bls-unchained-g1-rfc9380"
QUICKNET_GENESIS_TIME: Final = 1692803367  # 2023-08-23T15:09:27Z, the time of round 1
QUICKNET_PERIOD: Final = 3  # seconds between rounds
#: RFC 9380 hash-to-curve suite for signatures on G1 (the "rfc9380" in the scheme name; the older
#: ``bls-unchained-on-g1`` scheme of fastnet wrongly used the G2 tag).
QUICKNET_DST: Final = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"

_U64_MAX: Final = 2**64 - 1
_SIG_LEN: Final = 48  # compressed G1
_HEX_RE: Final = re.compile(r"[0-9a-f]*")


def _check_round(value: object, field: str = "round") -> int:
    # bool is an int subclass; True must not pass for round 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise VerificationError(f"{field}: expected an integer round number, found {value!r}")
    if not 1 <= value <= _U64_MAX:
        raise VerificationError(f"{field}: a drand round is in 1..2^64-1, found {value}")
    return value


def quicknet_round_time(round: int) -> int:
    """Unix time at which quicknet publishes ``round``: ``genesis + (round - 1) * period``.

    The drand round/time relation (drand ``chain.TimeOfRound``). Raises ``ValueError`` for a
    round outside 1..2^64-1.
    """
    if not isinstance(round, int) or isinstance(round, bool) or not 1 <= round <= _U64_MAX:
        raise ValueError(f"round: a drand round is in 1..2^64-1, found {round!r}")
    return QUICKNET_GENESIS_TIME + (round - 1) * QUICKNET_PERIOD


def quicknet_round_at(unix_time: int) -> int:
    """The latest quicknet round published at or before ``unix_time`` (drand ``CurrentRound``).

    ``floor((t - genesis) / period) + 1``. Raises ``ValueError`` before genesis, when no round
    exists yet.
    """
    if not isinstance(unix_time, int) or isinstance(unix_time, bool):
        raise ValueError(f"unix_time: expected integer seconds, found {unix_time!r}")
    if unix_time < QUICKNET_GENESIS_TIME:
        raise ValueError(
            f"unix_time: {unix_time} is before quicknet's genesis {QUICKNET_GENESIS_TIME}"
        )
    return (unix_time - QUICKNET_GENESIS_TIME) // QUICKNET_PERIOD + 1


def quicknet_round_after(unix_time: int) -> int:
    """The first quicknet round published strictly after ``unix_time``.

    This is the round to fix in ``draw.roster`` when reveals close at ``unix_time``: its value
    cannot be known by anyone until after the deadline. (Before genesis this is round 1.)
    """
    if not isinstance(unix_time, int) or isinstance(unix_time, bool):
        raise ValueError(f"unix_time: expected integer seconds, found {unix_time!r}")
    if unix_time < QUICKNET_GENESIS_TIME:
        return 1
    return quicknet_round_at(unix_time) + 1


def quicknet_message(round: int) -> bytes:
    """The 32-byte message signed for ``round`` in unchained mode: ``SHA-256(uint64_be(round))``."""
    return hashlib.sha256(_check_round(round).to_bytes(8, "big")).digest()


@functools.cache
def _quicknet_key() -> G2Point:
    # Decoding checks that the point is on the curve and in the prime-order subgroup.
    return G2Point.from_compressed_bytes(QUICKNET_PUBLIC_KEY)


def _decode_signature(signature_hex: object) -> bytes:
    if not isinstance(signature_hex, str):
        raise VerificationError(
            f"signature: expected a hex string, found {type(signature_hex).__name__}"
        )
    if not _HEX_RE.fullmatch(signature_hex) or len(signature_hex) % 2:
        raise VerificationError(
            "signature: expected lowercase hexadecimal (as drand publishes it), "
            f"found {signature_hex[:20]!r}{'...' if len(signature_hex) > 20 else ''}"
        )
    raw = bytes.fromhex(signature_hex)
    if len(raw) != _SIG_LEN:
        hint = ""
        if len(raw) == 96:
            hint = (
                " (96 bytes is a G2 signature, as on drand's chained 'default' network; "
                "quicknet signs on G1)"
            )
        raise VerificationError(
            f"signature: a quicknet signature is {_SIG_LEN} bytes (compressed G1), "
            f"found {len(raw)}{hint}"
        )
    return raw


def verify_quicknet(round: int, signature_hex: str) -> bytes:
    """Verify the quicknet beacon of ``round`` offline and return its 32-byte randomness.

    Scheme ``bls-unchained-g1-rfc9380`` (drand ``crypto/schemes.go``): the message is
    ``m = SHA-256(uint64_be(round))``; the signature ``s`` is a compressed G1 point and the group
    key ``P`` the pinned compressed G2 point; ``H`` is RFC 9380 hash-to-curve onto G1 with
    ``QUICKNET_DST``. The BLS check is ``e(s, g2) == e(H(m), P)``, evaluated as the single
    product ``e(s, -g2) * e(H(m), P) == 1``. The randomness is ``SHA-256(s)`` (drand-client
    ``randomnessIsValid``). The signature must decode to a subgroup point other than the
    identity.

    Raises ``VerificationError`` naming the field (``round`` or ``signature``) on any failure.
    """
    _check_round(round)
    raw = _decode_signature(signature_hex)
    try:
        sig = G1Point.from_compressed_bytes(raw)
    except ValueError as exc:
        raise VerificationError(
            "signature: not a valid compressed BLS12-381 G1 point in the prime-order "
            f"subgroup ({exc})"
        ) from None
    if sig == G1Point.identity() or not sig.is_in_subgroup():
        raise VerificationError("signature: the point at infinity is not a signature")
    hashed = G1Point.hash_to_curve(quicknet_message(round), QUICKNET_DST)
    if not GT.pairing_check([sig, hashed], [-G2Point(), _quicknet_key()]):
        raise VerificationError(
            f"signature: BLS verification failed for quicknet round {round} "
            f"(chain {QUICKNET_CHAIN_HASH[:16]}...): not this round's signature by the pinned "
            "group key"
        )
    return hashlib.sha256(raw).digest()


# --------------------------------------------------------------------------------------------
# China Welfare Lottery, written down the RFC 3797 way
# --------------------------------------------------------------------------------------------

SOURCE_CWL: Final = "cwl"
#: How the issuer is named at the head of the canonical string.
CWL_ISSUER: Final = "中国福利彩票"
_ISSUE_RE: Final = re.compile(r"[0-9]{4}[0-9]{3}")


@dataclass(frozen=True)
class CwlGroup:
    """One group of numbers of a game (e.g. the red balls of 双色球).

    ``count`` numbers in ``low..high``; ``distinct`` when drawn without replacement; ``ordered``
    when the position carries meaning (福彩3D's hundreds, tens and units), in which case every
    number is written as a group of its own so that RFC 3797's sorting does not erase the order.
    """

    key: str
    label: str
    count: int
    low: int
    high: int
    distinct: bool
    ordered: bool = False

    @property
    def outcomes(self) -> int:
        """How many different results this group can show."""
        size = self.high - self.low + 1
        return math.comb(size, self.count) if self.distinct else size**self.count


@dataclass(frozen=True)
class CwlGame:
    """A national game of the China Welfare Lottery and the rules of its published result.

    ``disjoint`` lists pairs of group keys whose numbers may not overlap (七乐彩's special number
    is drawn from the balls left after the seven basic numbers).
    """

    name: str
    groups: tuple[CwlGroup, ...]
    disjoint: tuple[tuple[str, str], ...] = ()

    @property
    def entropy_bits(self) -> float:
        """log2 of the number of possible results: the most one draw can contribute."""
        by_key = {g.key: g for g in self.groups}
        total = 1
        for g in self.groups:
            # A group drawn apart from another (七乐彩's special number) comes from what is left.
            taken = sum(by_key[a].count for a, b in self.disjoint if b == g.key)
            total *= math.comb(g.high - g.low + 1 - taken, g.count) if g.distinct else g.outcomes
        return math.log2(total)


#: The supported games: the four national draw games of 中国福利彩票 (rules as published by the
#: issuer, cwl.gov.cn). Regional games are not supported.
CWL_GAMES: Final[Mapping[str, CwlGame]] = {
    g.name: g
    for g in (
        CwlGame(
            "双色球",
            (
                CwlGroup("red", "红球", 6, 1, 33, distinct=True),
                CwlGroup("blue", "蓝球", 1, 1, 16, distinct=True),
            ),
        ),
        CwlGame(
            "福彩3D",
            (CwlGroup("digits", "百位/十位/个位", 3, 0, 9, distinct=False, ordered=True),),
        ),
        CwlGame(
            "七乐彩",
            (
                CwlGroup("basic", "基本号码", 7, 1, 30, distinct=True),
                CwlGroup("special", "特别号码", 1, 1, 30, distinct=True),
            ),
            disjoint=(("basic", "special"),),
        ),
        CwlGame("快乐8", (CwlGroup("numbers", "开奖号码", 20, 1, 80, distinct=True),)),
    )
}


def rfc3797_key(sources: Sequence[Sequence[int]]) -> str:
    """Write integer sources down as in RFC 3797 §4 (and its §6 worked example).

    For each source in turn: its numbers sorted into ascending order, each written in decimal
    without leading zeros and followed by a period ``.``; then a slash ``/`` ends the source.
    E.g. ``[[9319], [2, 5, 12, 8, 10]]`` -> ``"9319./2.5.8.10.12./"``. Numbers must be
    non-negative integers.
    """
    parts: list[str] = []
    for source in sources:
        for n in source:
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"rfc3797_key: numbers are non-negative integers, found {n!r}")
        parts.append("".join(f"{n}." for n in sorted(source)) + "/")
    return "".join(parts)


def _cwl_game(game: object) -> CwlGame:
    if not isinstance(game, str) or game not in CWL_GAMES:
        supported = ", ".join(CWL_GAMES)
        raise VerificationError(f"game: unsupported welfare-lottery game {game!r}; use {supported}")
    return CWL_GAMES[game]


def _cwl_issue(issue: object) -> str:
    if not isinstance(issue, str) or not _ISSUE_RE.fullmatch(issue) or issue.endswith("000"):
        raise VerificationError(
            f"issue: expected the issuer's 7-digit issue number YYYYNNN (e.g. '2026139'), "
            f"found {issue!r}"
        )
    return issue


def _cwl_numbers(game: CwlGame, numbers: object) -> dict[str, list[int]]:
    if not isinstance(numbers, Mapping):
        raise VerificationError(
            f"numbers: expected an object with groups {[g.key for g in game.groups]} "
            f"for {game.name}, found {type(numbers).__name__}"
        )
    expected = {g.key for g in game.groups}
    extra = sorted(str(k) for k in numbers if k not in expected)
    if extra:
        raise VerificationError(f"numbers: {game.name} has no group {extra[0]!r}")
    out: dict[str, list[int]] = {}
    for g in game.groups:
        field = f"numbers.{g.key}"
        values = numbers.get(g.key)
        if not isinstance(values, Sequence) or isinstance(values, str | bytes):
            raise VerificationError(f"{field}: expected a list of {g.count} numbers ({g.label})")
        if len(values) != g.count:
            raise VerificationError(
                f"{field}: {game.name} draws {g.count} {g.label}, found {len(values)} numbers"
            )
        for i, n in enumerate(values):
            if not isinstance(n, int) or isinstance(n, bool):
                raise VerificationError(f"{field}[{i}]: expected an integer, found {n!r}")
            if not g.low <= n <= g.high:
                raise VerificationError(
                    f"{field}[{i}]: {g.label} of {game.name} are in {g.low}..{g.high}, found {n}"
                )
        if g.distinct and len(set(values)) != len(values):
            dup = next(n for n in values if list(values).count(n) > 1)
            raise VerificationError(f"{field}: {dup} appears twice; {g.label} are all different")
        out[g.key] = list(values)
    for a, b in game.disjoint:
        common = sorted(set(out[a]) & set(out[b]))
        if common:
            raise VerificationError(
                f"numbers.{b}: {common[0]} is also in numbers.{a}; {game.name} draws them apart"
            )
    return out


def cwl_string(game: str, issue: str, numbers: Mapping[str, Sequence[int]]) -> str:
    """The canonical string of one official welfare-lottery draw.

    ``"<issuer> <game> 第<issue>期 <key>"`` where ``key`` is the RFC 3797 §4 writing of the
    game's groups in the order of ``CWL_GAMES`` (a group whose order matters is written one number
    per group), e.g. ``"中国福利彩票 双色球 第2026139期 3.7.12.19.25.31./9./"``. Game names come
    from a fixed table and contain no space, and the issue is seven digits, so the string names
    exactly one draw and one result (RFC 3797 §5.2 asks that sources be unambiguous).

    Raises ``VerificationError`` naming the field (``game``, ``issue``, ``numbers.<group>[i]``).
    """
    return _cwl_string(game, issue, numbers)


def _cwl_string(game: object, issue: object, numbers: object) -> str:
    g = _cwl_game(game)
    iss = _cwl_issue(issue)
    nums = _cwl_numbers(g, numbers)
    sources: list[list[int]] = []
    for group in g.groups:
        if group.ordered:
            sources.extend([n] for n in nums[group.key])
        else:
            sources.append(nums[group.key])
    return f"{CWL_ISSUER} {g.name} 第{iss}期 {rfc3797_key(sources)}"


def cwl_value(game: str, issue: str, numbers: Mapping[str, Sequence[int]]) -> bytes:
    """The beacon bytes of a welfare-lottery draw: the UTF-8 of ``cwl_string(...)``."""
    return cwl_string(game, issue, numbers).encode("utf-8")


# --------------------------------------------------------------------------------------------
# The ceremony's entry points
# --------------------------------------------------------------------------------------------

_ANNOUNCE_KEYS: Final = {
    SOURCE_QUICKNET: ({"source", "round"}, {"chain_hash"}),
    SOURCE_CWL: ({"source", "game", "issue"}, {"draw_date"}),
}
_EVIDENCE_KEYS: Final = {
    SOURCE_QUICKNET: ({"source", "round", "signature"}, {"chain_hash", "randomness"}),
    SOURCE_CWL: ({"source", "game", "issue", "numbers"}, {"draw_date", "url"}),
}
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _shape(
    body: object, table: Mapping[str, tuple[set[str], set[str]]], what: str
) -> tuple[str, Mapping[str, object]]:
    if not isinstance(body, Mapping):
        raise VerificationError(f"{what}: expected an object, found {type(body).__name__}")
    source = body.get("source")
    if not isinstance(source, str) or source not in table:
        raise VerificationError(
            f"source: unknown randomness source {source!r}; use one of {sorted(table)}"
        )
    required, optional = table[source]
    missing = sorted(required - body.keys())
    if missing:
        raise VerificationError(f"{missing[0]}: missing from the {source} {what}")
    unknown = sorted(str(k) for k in body.keys() - required - optional)
    if unknown:
        raise VerificationError(f"{unknown[0]}: not a field of the {source} {what}")
    if "chain_hash" in body and body["chain_hash"] != QUICKNET_CHAIN_HASH:
        raise VerificationError(
            f"chain_hash: expected quicknet {QUICKNET_CHAIN_HASH}, found {body['chain_hash']!r}"
        )
    if "draw_date" in body:
        date = body["draw_date"]
        if not isinstance(date, str) or not _DATE_RE.fullmatch(date):
            raise VerificationError(f"draw_date: expected YYYY-MM-DD, found {date!r}")
    if "url" in body and not isinstance(body["url"], str):
        raise VerificationError(f"url: expected a string, found {body['url']!r}")
    return source, body


def validate_announcement(announced: Mapping[str, object]) -> None:
    """Check the shape of the beacon fixed in ``draw.roster`` before any reveal.

    ``{"source": "drand-quicknet", "round": R[, "chain_hash": ...]}`` or
    ``{"source": "cwl", "game": ..., "issue": ...[, "draw_date": "YYYY-MM-DD"]}``.
    """
    source, body = _shape(announced, _ANNOUNCE_KEYS, "announcement")
    if source == SOURCE_QUICKNET:
        _check_round(body["round"])
    else:
        _cwl_game(body["game"])
        _cwl_issue(body["issue"])


def beacon_publication_time(announced: Mapping[str, object]) -> int | None:
    """Unix time from which the announced beacon value can be known, when that is knowable offline.

    For quicknet, the publication time of the round; the service must close reveals before it,
    and a verifier checks reveals were logged before it. For a welfare-lottery draw, ``None``:
    the draw time is set by the issuer and is only recorded (``draw_date``).
    """
    validate_announcement(announced)
    if announced["source"] == SOURCE_QUICKNET:
        rnd = announced["round"]
        assert isinstance(rnd, int)
        return quicknet_round_time(rnd)
    return None


def check_announced(announced: Mapping[str, object], evidence: Mapping[str, object]) -> None:
    """Check that the evidence is for the very beacon that ``draw.roster`` fixed in advance.

    Same source; the same quicknet round, or the same game and issue. Raises
    ``VerificationError`` naming the field that differs.
    """
    validate_announcement(announced)
    _shape(evidence, _EVIDENCE_KEYS, "evidence")
    if evidence["source"] != announced["source"]:
        raise VerificationError(
            f"source: the roster fixed {announced['source']!r}, the evidence is from "
            f"{evidence['source']!r}"
        )
    fields = ("round",) if announced["source"] == SOURCE_QUICKNET else ("game", "issue")
    for f in fields:
        if evidence[f] != announced[f]:
            raise VerificationError(
                f"{f}: the roster fixed {announced[f]!r}, the evidence is for {evidence[f]!r}"
            )


def beacon_value(evidence: Mapping[str, object]) -> bytes:
    """The beacon bytes for the seed, from the evidence recorded in ``draw.beacon``.

    * ``{"source": "drand-quicknet", "round": R, "signature": hex[, "randomness": hex]
      [, "chain_hash": hex]}`` -> the 32-byte randomness, after ``verify_quicknet``; a recorded
      ``randomness`` must equal ``SHA-256(signature)``.
    * ``{"source": "cwl", "game": ..., "issue": ..., "numbers": {...}[, "draw_date": ...]
      [, "url": ...]}`` -> ``cwl_value(game, issue, numbers)``; ``draw_date`` and ``url`` are
      recorded for people and do not enter the bytes.

    Unknown fields are refused. Raises ``VerificationError`` naming the field on any problem.
    """
    source, body = _shape(evidence, _EVIDENCE_KEYS, "evidence")
    if source == SOURCE_QUICKNET:
        rnd = _check_round(body["round"])
        sig = body["signature"]
        value = verify_quicknet(rnd, _decode_signature(sig).hex())
        if "randomness" in body and body["randomness"] != value.hex():
            raise VerificationError(
                f"randomness: SHA-256(signature) is {value.hex()}, the evidence records "
                f"{body['randomness']!r}"
            )
        return value
    return _cwl_string(body["game"], body["issue"], body["numbers"]).encode("utf-8")
