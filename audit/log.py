"""Log entries of paiwei-log/1, a bulk checker of a whole log, and an in-memory log builder.

Each entry is the RFC 8785 form of ``{"seq", "time", "kind", "actor", "body"}`` (see
docs/log-format.md). The Merkle leaf of entry ``seq`` is ``leaf_hash(entry_bytes)``
(RFC 9162 §2.1.1); entry ``seq`` is leaf ``seq``.

Theory of operation of :func:`scan_entries`
-------------------------------------------
:func:`parse_entry` is the definition of a valid entry; checking a log is calling it on every
line, requiring seq = line number and times that never decrease. That costs tens of seconds for
a million entries, so :func:`scan_entries` first tries, per chunk of lines, a bulk pass whose
per-entry work stays in C (msgspec decodes the chunk into typed structs; msgspec re-encodes
them; orjson checks the integers; numpy checks the times) and which accepts a chunk only when
it can show that :func:`parse_entry` would accept every line of it with the same values (see
``_bulk_chunk``). Any chunk it cannot vouch for -- an error, an unusual but valid entry --
is checked again line by line with :func:`parse_entry`, which writes the messages. The bulk
pass never decides that something is wrong; it only skips the slow pass where nothing can be.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson

from audit._bulk import bmp_only, paused_gc
from audit._canon import canonical_json
from audit.errors import MalformedError, VerificationError
from audit.merkle import CompactRange, leaf_hash, leaf_hashes

__all__ = [
    "LOG_FORMAT",
    "LogEntry",
    "LogScan",
    "entry_bytes",
    "parse_entry",
    "scan_entries",
    "scan_entries_file",
    "time_key",
    "validate_time",
]

LOG_FORMAT = "paiwei-log/1"
#: RFC 3339 UTC timestamps as the log writes them: seconds precision, optional fraction, "Z".
# Used with fullmatch, and ASCII digits only: `\d` takes any Unicode digit and `$` a final
# newline, and times are ordered as strings.
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def validate_time(time: object) -> None:
    """Require an RFC 3339 UTC timestamp such as ``2026-06-01T08:00:00Z``."""
    if not isinstance(time, str) or not _TIME_RE.fullmatch(time):
        raise MalformedError(
            f"time {time!r} is not an RFC 3339 UTC timestamp like 2026-06-01T08:00:00Z"
        )
    month, day = int(time[5:7]), int(time[8:10])
    hour, minute, second = int(time[11:13]), int(time[14:16]), int(time[17:19])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise MalformedError(f"time {time!r} has an out-of-range field")


def time_key(time: str) -> tuple[str, str]:
    """Sort key of a valid log time: the seconds part, then the fraction padded to 9 digits."""
    head, _, frac = time[:-1].partition(".")
    return head, frac.ljust(9, "0")


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
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
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
    try:
        _check_fields(seq, time, kind, actor, body)
    except MalformedError as exc:
        raise MalformedError(f"{where}: {exc.message}") from None
    if not _is_canonical(raw, value):
        raise MalformedError(f"{where}: bytes are not the RFC 8785 canonical form")
    if expected_seq is not None and seq != expected_seq:
        raise MalformedError(f"{where}: wrong seq", expected=expected_seq, found=seq)
    return LogEntry(seq, time, kind, actor, body, raw)


@dataclass(slots=True)
class LogScan:
    """What one pass over a log's lines found (see :func:`scan_entries`)."""

    leaf_hashes: list[bytes]
    #: the parsed ``draw.*`` entries by seq (other entries are checked and not kept)
    draw_entries: dict[int, LogEntry] = field(default_factory=dict)
    #: one message per problem, naming its entry (``entry 7: ...``); empty if the log is valid
    problems: list[str] = field(default_factory=list)


#: Lines per bulk chunk: measured best of 512-8192 for 1M entries (2048; 512 was ~5% slower).
_CHUNK = 2048
#: Bytes per chunk of :func:`scan_entries_file` (about 2048 typical entries).
_CHUNK_BYTES = 1 << 19
_MAX_SAFE_INT = 2**53 - 1


_SafeInt = Annotated[int, msgspec.Meta(ge=-_MAX_SAFE_INT, le=_MAX_SAFE_INT)]
# JSON with no floats and only safe integers, nested at most 4 containers deep below the body
# (deeper bodies are rare and go line by line).
_Json: Any = _SafeInt | str | bool | None
for _ in range(4):
    _Json = _SafeInt | str | bool | None | list[_Json] | dict[str, _Json]


class _Entry(msgspec.Struct, forbid_unknown_fields=True):
    """An entry's members, typed as :func:`_check_fields` requires (fields in sorted order)."""

    actor: Annotated[str, msgspec.Meta(min_length=1)]
    body: dict[str, _Json]
    kind: str
    seq: Annotated[int, msgspec.Meta(ge=0, le=_MAX_SAFE_INT)]
    time: str


_DECODER = msgspec.json.Decoder(_Entry)
_ENCODER = msgspec.json.Encoder(order="sorted")
_SEQ = operator.attrgetter("seq")
_TIME = operator.attrgetter("time")
_KIND = operator.attrgetter("kind")
# A whole-second time "YYYY-MM-DDTHH:MM:SSZ", byte by byte: a digit or the separator.
_FIRST = np.frombuffer(b"0000-00-00T00:00:00Z", dtype=np.uint8)
_LAST = np.frombuffer(b"9999-99-99T99:99:99Z", dtype=np.uint8)
_LOW = np.array([1, 1, 0, 0, 0])  # month, day, hour, minute, second (as in validate_time)
_HIGH = np.array([12, 31, 23, 59, 60])


def _times_valid(times: list[str], last: tuple[str, str] | None) -> bool:
    """True only if :func:`validate_time` accepts every time and, compared by :func:`time_key`,
    the times never decrease after ``last`` (whole seconds checked in bulk)."""
    if last is not None and time_key(times[0]) < last:  # the first time is checked just below
        return False
    if set(map(len, times)) == {20}:
        try:
            a = np.frombuffer("".join(times).encode("ascii"), dtype=np.uint8).reshape(-1, 20)
        except UnicodeEncodeError:
            return False
        if not ((a >= _FIRST) & (a <= _LAST)).all():  # digits and separators in place
            return False
        fields = a[:, 5::3].astype(np.int16) * 10 + a[:, 6::3] - 11 * ord("0")
        # Whole seconds only: time_key order is the order of the 20 ASCII bytes (none is NUL,
        # which numpy's "S" comparison would ignore at the end).
        rows = a.view("S20").ravel()
        return bool(((fields >= _LOW) & (fields <= _HIGH)).all() and (rows[:-1] <= rows[1:]).all())
    try:
        for t in set(times):
            validate_time(t)
    except MalformedError:
        return False
    keys = list(map(time_key, times))
    return all(map(operator.le, keys, keys[1:]))


def _bulk_chunk(
    lines: Sequence[bytes], start: int, last: tuple[str, str] | None, blob: bytes | None = None
) -> tuple[list[_Entry], bool] | None:
    """The entries of ``lines`` (seq ``start``...) if provably all valid, else None (with
    whether any is a ``draw.*`` entry).

    Accepts only if, for every line, :func:`parse_entry` would return the same values and the
    times keep non-decreasing after ``last``:

    - msgspec decodes ``lines`` as newline-delimited ``_Entry`` structs: exactly the five
      members, ``seq`` a non-negative integer, ``actor`` a non-empty string, ``body`` an object
      holding no float and only integers within +-(2^53 - 1);
    - re-encoding the structs (sorted keys, no whitespace) gives back exactly the chunk's bytes.
      Neither side contains a raw newline, so line i is the encoding of struct i. On such values
      with no character outside the BMP, that encoding is RFC 8785 (the property test in
      tests/audit/test_log_scan.py checks msgspec against the ``rfc8785`` package) -- so each
      line is canonical;
    - seq = line number; each kind matches ``_KIND_RE``; each time passes :func:`validate_time`;
      and the times, compared by :func:`time_key`, never decrease.

    ``blob``, if given, must be ``b"\\n".join(lines) + b"\\n"`` (the file bytes the lines were
    split from; it saves joining them again).
    """
    if blob is None:
        blob = b"\n".join(lines) + b"\n"
    if not bmp_only(blob):
        return None
    try:
        items = _DECODER.decode_lines(blob)
    except (msgspec.MsgspecError, ValueError):
        return None
    if _ENCODER.encode_lines(items) != blob:
        return None
    if list(map(_SEQ, items)) != list(range(start, start + len(lines))):
        return None
    kinds = set(map(_KIND, items))
    if not all(_KIND_RE.fullmatch(k) for k in kinds):
        return None
    if not _times_valid(list(map(_TIME, items)), last):
        return None
    return items, any(k.startswith("draw.") for k in kinds)


def scan_entries(
    lines: Sequence[bytes], *, progress: Callable[[int], None] | None = None, bulk: bool = True
) -> LogScan:
    """Check every line as :func:`parse_entry` with seq = line number, and times non-decreasing.

    Returns the leaf hashes of all lines (valid or not), the parsed ``draw.*`` entries and the
    problems, each naming its entry. ``bulk=False`` checks line by line only (the reference the
    bulk pass is tested against). ``progress(done)`` is called now and then.
    """
    chunks = ((lines[i : i + _CHUNK], None) for i in range(0, len(lines), _CHUNK))
    return _scan(chunks, progress, bulk)


def scan_entries_file(raw: bytes, *, progress: Callable[[int], None] | None = None) -> LogScan:
    """:func:`scan_entries` of ``raw.split(b"\\n")[:-1]``: the lines of a file of entries.

    ``raw`` must be empty or end with a newline. The file is cut into chunks of whole lines
    (about ``_CHUNK_BYTES`` each) and each chunk's lines are split from its own bytes, so the
    bulk pass reads the chunk's bytes as they are instead of joining the lines again; the
    chunks' lines, in order, are exactly the file's lines.
    """
    if raw and not raw.endswith(b"\n"):
        raise ValueError("a file of entries must end with a newline")

    def chunks() -> Iterator[tuple[list[bytes], bytes]]:
        pos = 0
        while pos < len(raw):
            end = raw.find(b"\n", pos + _CHUNK_BYTES - 1) + 1 or len(raw)
            blob = raw[pos:end]
            lines = blob.split(b"\n")
            lines.pop()  # the empty string after the final newline
            yield lines, blob
            pos = end

    return _scan(chunks(), progress, True)


def _scan(
    chunks: Iterable[tuple[Sequence[bytes], bytes | None]],
    progress: Callable[[int], None] | None,
    bulk: bool,
) -> LogScan:
    """The pass of :func:`scan_entries` over consecutive chunks of lines (with their bytes
    ``b"\\n".join(lines) + b"\\n"`` when the caller has them)."""
    scan = LogScan([])
    last: tuple[str, str] | None = None
    start = 0
    with paused_gc():  # the chunks allocate many short-lived, acyclic objects
        for n, (chunk, blob) in enumerate(chunks):
            scan.leaf_hashes += leaf_hashes(chunk)
            bulked = _bulk_chunk(chunk, start, last, blob) if bulk else None
            if bulked is not None:
                items, has_draws = bulked
                if has_draws:
                    for i, e in enumerate(items):
                        if e.kind.startswith("draw."):
                            scan.draw_entries[start + i] = LogEntry(
                                e.seq, e.time, e.kind, e.actor, e.body, chunk[i]
                            )
                last = time_key(items[-1].time)
                del items, bulked
            else:
                last = _check_lines(chunk, start, last, scan)
            start += len(chunk)
            if progress is not None and n % 16 == 0:
                progress(start)
    return scan


def _check_lines(
    lines: Sequence[bytes], start: int, last: tuple[str, str] | None, scan: LogScan
) -> tuple[str, str] | None:
    """The definition, line by line: :func:`parse_entry`, then the time order."""
    for seq, raw in enumerate(lines, start):
        try:
            e = parse_entry(raw, expected_seq=seq)
        except VerificationError as exc:
            scan.problems.append(str(exc))
            continue
        if e.kind.startswith("draw."):
            scan.draw_entries[seq] = e
        key = time_key(e.time)
        if last is not None and key < last:
            scan.problems.append(f"entry {seq}: time {e.time} is earlier than the entry before")
        last = key
    return last


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
