"""Log entries of paiwei-log/1 and an in-memory log builder.

Each entry is the RFC 8785 form of ``{"seq", "time", "kind", "actor", "body"}`` (see
docs/log-format.md). The Merkle leaf of entry ``seq`` is ``leaf_hash(entry_bytes)``
(RFC 9162 §2.1.1); entry ``seq`` is leaf ``seq``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from audit._canon import canonical_json
from audit.errors import MalformedError
from audit.merkle import CompactRange, leaf_hash

__all__ = ["LOG_FORMAT", "LogEntry", "entry_bytes", "parse_entry", "validate_time"]

LOG_FORMAT = "paiwei-log/1"
#: RFC 3339 UTC timestamps as the log writes them: seconds precision, optional fraction, "Z".
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def validate_time(time: object) -> None:
    """Require an RFC 3339 UTC timestamp such as ``2026-06-01T08:00:00Z``."""
    if not isinstance(time, str) or not _TIME_RE.match(time):
        raise MalformedError(
            f"time {time!r} is not an RFC 3339 UTC timestamp like 2026-06-01T08:00:00Z"
        )
    month, day = int(time[5:7]), int(time[8:10])
    hour, minute, second = int(time[11:13]), int(time[14:16]), int(time[17:19])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise MalformedError(f"time {time!r} has an out-of-range field")


def entry_bytes(seq: int, time: str, kind: str, actor: str, body: Mapping[str, object]) -> bytes:
    """RFC 8785 bytes of ``{"seq","time","kind","actor","body"}`` -- one paiwei-log/1 entry."""
    _check_fields(seq, time, kind, actor, body)
    return canonical_json(
        {"seq": seq, "time": time, "kind": kind, "actor": actor, "body": dict(body)}
    )


def _check_fields(seq: object, time: object, kind: object, actor: object, body: object) -> None:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise MalformedError(f"seq must be a non-negative integer, got {seq!r}")
    validate_time(time)
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise MalformedError(f"kind {kind!r} must be dotted lowercase words like 'draw.roster'")
    if not isinstance(actor, str) or not actor:
        raise MalformedError("actor must be a non-empty string")
    if not isinstance(body, Mapping):
        raise MalformedError(f"body must be a JSON object, got {type(body).__name__}")


# Byte-level guards for the fast canonical check: a number with a fraction or exponent, an integer
# of 16+ digits (beyond I-JSON's safe range is possible), or any 4-byte UTF-8 sequence (a
# character outside the BMP, where RFC 8785's UTF-16 key order can differ from code-point order).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string literal, unrolled loop
_UNSAFE_NUMBER = re.compile(rb"[0-9][.eE]|[0-9]{16}")
_ASTRAL = re.compile(rb"[\xf0-\xf4]")


def _is_canonical(raw: bytes, value: dict[str, Any]) -> bool:
    """``raw == RFC 8785(value)`` for ``value = parse(raw)``.

    On values with no floats, only safe integers and no characters outside the BMP, orjson with
    sorted keys writes exactly RFC 8785 (lottery/canonical.py; property-tested against the
    ``rfc8785`` package), so comparing with orjson's output decides it. The guards are read off
    the bytes themselves (with string literals blanked out), which is much cheaper than walking
    the value; anything they cannot vouch for goes to the exact serialiser.
    """
    if not _ASTRAL.search(raw) and not _UNSAFE_NUMBER.search(_STRING.sub(b'""', raw)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == raw
    try:
        return canonical_json(value) == raw
    except Exception:  # the value has no RFC 8785 form at all (e.g. an unsafe integer)
        return False


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A parsed entry with its exact bytes."""

    seq: int
    time: str
    kind: str
    actor: str
    body: dict[str, Any]
    raw: bytes

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.raw)


def parse_entry(raw: bytes, *, expected_seq: int | None = None) -> LogEntry:
    """Parse entry bytes and require them to be exactly canonical (RFC 8785) paiwei-log/1."""
    where = f"entry {expected_seq}" if expected_seq is not None else "entry"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise MalformedError(f"{where}: not a JSON object")
    keys = set(value)
    if keys != {"seq", "time", "kind", "actor", "body"}:
        raise MalformedError(
            f"{where}: members must be exactly seq, time, kind, actor, body",
            expected="actor, body, kind, seq, time",
            found=", ".join(sorted(keys)),
        )
    seq, time, kind, actor, body = (value[k] for k in ("seq", "time", "kind", "actor", "body"))
    _check_fields(seq, time, kind, actor, body)
    if not _is_canonical(raw, value):
        raise MalformedError(f"{where}: bytes are not the RFC 8785 canonical form")
    if expected_seq is not None and seq != expected_seq:
        raise MalformedError(f"{where}: wrong seq", expected=expected_seq, found=seq)
    return LogEntry(seq, time, kind, actor, body, raw)


class LogBuilder:
    """An append-only in-memory log: entries plus the compact range of their leaf hashes.

    For tests, fixtures and the bundle writer; the service keeps entries in its database and
    persists ``CompactRange`` state itself.
    """

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.leaf_hashes: list[bytes] = []
        self.tree = CompactRange()

    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, time: str, kind: str, actor: str, body: Mapping[str, object]) -> int:
        """Append an entry; return its seq."""
        seq = self.size
        raw = entry_bytes(seq, time, kind, actor, body)
        h = leaf_hash(raw)
        self.entries.append(raw)
        self.leaf_hashes.append(h)
        self.tree.append(h)
        return seq

    def root(self) -> bytes:
        return self.tree.root()
