"""The bulk log pass (audit.log.scan_entries) agrees with checking line by line.

``scan_entries(lines, bulk=False)`` is the definition: :func:`audit.log.parse_entry` on every
line with seq = line number, and times that never decrease. The bulk pass must give exactly the
same leaf hashes, parsed draw entries and problem messages on every input -- valid logs, logs
with unusual but valid entries (floats, characters outside the BMP) and tampered logs -- and it
must actually be the path taken for an ordinary log.
"""

from __future__ import annotations

import json

import msgspec
import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import audit.draw
import audit.log
from audit.draw import instance_digest, read_instance, result_body
from audit.log import entry_bytes, scan_entries, scan_entries_file
from audit.merkle import leaf_hash

SAFE = 2**53 - 1

# JSON values on which the bulk encoder must equal RFC 8785: no floats, safe integers, keys in
# the BMP (values may hold any character).
bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)))
domain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(bmp_text, inner, max_size=4),
    max_leaves=16,
)


@given(domain_values)
def test_msgspec_sorted_encoding_is_rfc8785_on_the_domain(value: object) -> None:
    assert audit.log._ENCODER.encode(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


# Entries for the equivalence test: mostly ordinary, some unusual, some invalid.
body_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
times = st.sampled_from(
    [
        "2026-05-20T08:00:00Z",
        "2026-05-20T08:00:00.5Z",
        "2026-05-20T08:00:01Z",
        "2026-05-20T08:00:00.25Z",
        "2026-06-01T00:00:00Z",
        "2026-13-01T00:00:00Z",  # invalid month
        "2026-06-01T24:00:00Z",  # invalid hour
        "2026-06-01 00:00:00Z",  # not RFC 3339 as the log writes it
        "2026-06-01T00:00:60Z",  # leap second: allowed
    ]
)
kinds = st.sampled_from(["registration", "draw.roster", "draw.seed", "review.decision", "Bad"])


@st.composite
def lines_(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(1, 12))
    out: list[bytes] = []
    for seq in range(n):
        value = {
            "seq": seq,
            "time": draw(times),
            "kind": draw(kinds),
            "actor": draw(st.sampled_from(["service", "", "w1"])),
            "body": draw(st.dictionaries(st.text(max_size=3), body_values, max_size=3)),
        }
        style = draw(st.sampled_from(["canonical"] * 6 + ["orjson", "spaces", "rfc8785-raw"]))
        try:
            raw = rfc8785.dumps(value)
        except Exception:
            raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if style == "orjson":
            raw = orjson.dumps(value)  # insertion order: not canonical
        elif style == "spaces":
            raw = json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
        out.append(raw)
    # tampering: a flipped byte, a swap, an extra member, a bad seq
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, n - 1))
        what = draw(st.sampled_from(["flip", "swap", "member", "seq", "float-seq", "empty"]))
        if what == "flip" and out[i]:
            pos = draw(st.integers(0, len(out[i]) - 1))
            b = out[i][pos] ^ (1 << draw(st.integers(0, 7)))
            if b != 0x0A:
                out[i] = out[i][:pos] + bytes([b]) + out[i][pos + 1 :]
        elif what == "swap":
            j = draw(st.integers(0, n - 1))
            out[i], out[j] = out[j], out[i]
        elif what == "member":
            out[i] = out[i].replace(b'{"actor"', b'{"a":1,"actor"', 1)
        elif what == "seq":
            out[i] = out[i].replace(b'"seq":', b'"seq":1', 1)
        elif what == "float-seq":
            out[i] = out[i].replace(b'"seq":%d' % i, b'"seq":%d.0' % i, 1)
        elif what == "empty":
            out[i] = b""
    return out


@given(lines_(), st.integers(1, 5))
@settings(max_examples=300, deadline=None)
def test_bulk_pass_equals_the_definition(lines: list[bytes], chunk: int) -> None:
    old = audit.log._CHUNK
    audit.log._CHUNK = chunk
    try:
        fast = scan_entries(lines)
        slow = scan_entries(lines, bulk=False)
    finally:
        audit.log._CHUNK = old
    assert fast.problems == slow.problems
    assert fast.draw_entries == slow.draw_entries
    assert fast.leaf_hashes == slow.leaf_hashes == [leaf_hash(x) for x in lines]


@given(lines_(), st.integers(1, 600))
@settings(max_examples=300, deadline=None)
def test_file_scan_equals_the_definition(lines: list[bytes], chunk_bytes: int) -> None:
    # The file's lines are exactly these (tampering never writes a raw newline).
    raw = b"".join(x + b"\n" for x in lines)
    assert raw.split(b"\n")[:-1] == lines
    old = audit.log._CHUNK_BYTES
    audit.log._CHUNK_BYTES = chunk_bytes  # 1: a line per chunk; 600: usually one chunk
    try:
        fast = scan_entries_file(raw)
    finally:
        audit.log._CHUNK_BYTES = old
    slow = scan_entries(lines, bulk=False)
    assert fast.problems == slow.problems
    assert fast.draw_entries == slow.draw_entries
    assert fast.leaf_hashes == slow.leaf_hashes


@pytest.mark.parametrize("raw", [b"", b"\n", b"\n\n", b"{}\n"])
def test_file_scan_of_empty_lines(raw: bytes) -> None:
    fast = scan_entries_file(raw)
    slow = scan_entries(raw.split(b"\n")[:-1], bulk=False)
    assert (fast.problems, fast.leaf_hashes) == (slow.problems, slow.leaf_hashes)
    assert len(fast.leaf_hashes) == raw.count(b"\n")


def test_file_scan_needs_a_final_newline() -> None:
    with pytest.raises(ValueError, match="newline"):
        scan_entries_file(b"{}")


def test_an_ordinary_file_takes_the_bulk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [*_log(40), entry_bytes(40, "2026-05-20T09:00:00Z", "draw.roster", "o", {"d": 1})]

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("checked line by line")

    monkeypatch.setattr(audit.log, "parse_entry", refuse)
    monkeypatch.setattr(audit.log, "_CHUNK_BYTES", 500)
    scan = scan_entries_file(b"".join(x + b"\n" for x in lines))
    assert scan.problems == []
    assert list(scan.draw_entries) == [40]
    assert scan.draw_entries[40].raw == lines[40]
    assert scan.leaf_hashes == [leaf_hash(x) for x in lines]


def _log(n: int, kind: str = "registration") -> list[bytes]:
    return [
        entry_bytes(i, f"2026-05-20T08:{i // 60 % 60:02d}:{i % 60:02d}Z", kind, "service", {"i": i})
        for i in range(n)
    ]


def test_an_ordinary_log_takes_the_bulk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [*_log(40), entry_bytes(40, "2026-05-20T09:00:00Z", "draw.roster", "o", {"d": 1})]

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("checked line by line")

    monkeypatch.setattr(audit.log, "parse_entry", refuse)
    monkeypatch.setattr(audit.log, "_CHUNK", 8)
    scan = scan_entries(lines)
    assert scan.problems == []
    assert list(scan.draw_entries) == [40]
    assert scan.draw_entries[40].body == {"d": 1}
    assert scan.draw_entries[40].raw == lines[40]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'"i":5', b'"i":6')), None),  # still valid
        (lambda ls: ls.__setitem__(5, ls[5].replace(b":", b": ", 1)), "entry 5: bytes are not"),
        (lambda ls: ls.__setitem__(5, ls[5][:-1]), "entry 5: not JSON"),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'"i":5', b'"i":5.0')), "entry 5: bytes"),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'"i":5', b'"i":9007199254740993')), "entry 5"),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'"seq":5', b'"seq":6')), "entry 5: wrong seq"),
        (lambda ls: ls.insert(5, ls.pop(7)), "entry 5: wrong seq"),
        (
            lambda ls: ls.__setitem__(5, ls[5].replace(b"08:00:05Z", b"08:00:01Z")),
            "entry 5: time 2026-05-20T08:00:01Z is earlier than the entry before",
        ),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b"08:00:05Z", b"08:60:05Z")), "entry 5: time"),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'"service"', b'""')), "entry 5: actor"),
        # review F3: non-ASCII digits (back-dated as a string) and a final newline
        (
            lambda ls: ls.__setitem__(5, ls[5].replace(b'"time":"2026', '"time":"٢٠٢٥'.encode())),
            "entry 5: time",
        ),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'05Z"', b'05Z\\n"')), "entry 5: time"),
        (lambda ls: ls.__setitem__(5, ls[5].replace(b'"actor"', b'"actor","x":1,"y"')), "entry 5"),
    ],
)
def test_tampered_lines_are_named(tamper, message: str | None) -> None:  # type: ignore[no-untyped-def]
    lines = _log(12)
    tamper(lines)
    for chunk in (4, 16384):
        old = audit.log._CHUNK
        audit.log._CHUNK = chunk
        try:
            scan = scan_entries(lines)
        finally:
            audit.log._CHUNK = old
        if message is None:
            assert scan.problems == []
        else:
            assert scan.problems, "tampering not caught"
            assert scan.problems[0].startswith(message), scan.problems


def test_unusual_but_valid_entries_pass() -> None:
    lines = _log(3)
    lines.append(entry_bytes(3, "2026-05-20T08:00:03.5Z", "x", "a", {"f": 1.5, "\U0001d516": 1}))
    lines.append(entry_bytes(4, "2026-05-20T08:00:04Z", "x", "a", {"\ufb01": "\U0001f600"}))
    lines.append(entry_bytes(5, "2026-05-20T08:00:05Z", "x", "a", {"deep": [[[[[[1]]]]]]}))
    lines.append(entry_bytes(6, "2026-05-20T08:00:06Z", "x", "a", {"n": -(2**53 - 1)}))
    assert scan_entries(lines).problems == []


# instance.json and result.json: the bulk readers equal their definitions.
instances = st.fixed_dictionaries(
    {"seed": st.text(max_size=4), "mechanism": st.text(max_size=4)},
    optional={"x": body_values, "\U0001d516": st.integers(), "\ufb01": st.integers()},
)


@given(instances)
def test_read_instance_equals_the_definition(value: dict[str, object]) -> None:
    try:
        raw = rfc8785.dumps(value)  # type: ignore[arg-type]
    except Exception:
        raw = json.dumps(value).encode()
    parsed = json.loads(raw)
    try:
        want = instance_digest(parsed)
    except Exception as exc:  # no canonical form: the bulk reader must not find one either
        with pytest.raises(type(exc)):
            read_instance(raw)
        return
    members, digest = read_instance(raw)
    assert digest == want
    assert members == {k: parsed[k] for k in ("seed", "mechanism") if k in parsed}


def test_read_instance_without_canonical_form_raises() -> None:
    with pytest.raises(Exception, match="canonical"):
        read_instance(b'{"n":1e400}')


results = st.fixed_dictionaries(
    {
        "assignments": st.dictionaries(
            st.text(max_size=3), st.none() | st.fixed_dictionaries({"school": st.text(max_size=2)})
        ),
        "schools": st.dictionaries(
            st.text(max_size=3),
            st.fixed_dictionaries(
                {},
                optional={
                    "admitted": st.lists(st.text(max_size=2) | st.lists(st.text(max_size=2))),
                    "waitlist": st.lists(st.integers() | st.lists(st.integers())),
                },
            ),
        ),
    },
    optional={"instance_sha256": body_values, "tickets": body_values},
)


@given(results)
def test_bulk_result_counts_equal_the_definition(value: dict[str, object]) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode() + b"\n"
    fast = result_body("d1", raw)
    original = audit.draw._count_result
    audit.draw._count_result = lambda _raw: None
    try:
        slow = result_body("d1", raw)
    finally:
        audit.draw._count_result = original
    assert fast == slow


@pytest.mark.parametrize(
    "raw",
    [
        b'{"assignments":{"a":null},"schools":{"s":{"admitted":"x"}}}',
        b'{"assignments":[],"schools":{}}',
        b'{"assignments":{},"schools":{"s":1}}',
        b'{"assignments":{"a":"\xff"},"schools":{}}',
        b"[]",
        b"{",
    ],
)
def test_bad_result_files_keep_their_messages(raw: bytes) -> None:
    original = audit.draw._count_result
    audit.draw._count_result = lambda _raw: None
    try:
        with pytest.raises(audit.errors.MalformedError) as slow:
            result_body("d1", raw)
    finally:
        audit.draw._count_result = original
    with pytest.raises(audit.errors.MalformedError) as fast:
        result_body("d1", raw)
    assert str(fast.value) == str(slow.value)


def test_msgspec_refuses_what_the_bulk_paths_must_not_accept() -> None:
    with pytest.raises((msgspec.DecodeError, ValueError)):
        audit.log._DECODER.decode(
            b'{"actor":"a","body":{"x":"\\ud800"},"kind":"k","seq":0,"time":"t"}'
        )


# Times as the bulk time check sees them: mostly well-formed whole seconds, with any byte of
# the shape swapped for a near miss (a digit out of range, a wrong separator, a fraction).
time_like = st.builds(
    lambda y, mo, d, h, mi, s, sep, frac: (
        f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}" + frac + "Z"
    ),
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["T"] * 8 + [" ", "t", "/"]),
    st.sampled_from([""] * 8 + [".5", ".25", ".000000001"]),
) | st.sampled_from(["2026-05-20T08:00:0:Z", "2026-05-20T08:00:00z", "2026-05-20T08:00:0\x00Z"])


whole_seconds = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format,
    st.sampled_from([1999, 2026, 2027]),
    st.integers(1, 12),
    st.integers(1, 31),
    st.integers(0, 23),
    st.sampled_from([0, 9, 10, 59]),
    st.sampled_from([0, 9, 10, 59, 60]),
)
some_times = whole_seconds | whole_seconds | time_like


@given(st.lists(some_times, min_size=1, max_size=8), st.none() | some_times)
@settings(max_examples=500)
def test_bulk_time_check_equals_the_definition(times: list[str], last: str | None) -> None:
    def definition() -> bool:
        try:
            for t in [*([last] if last else []), *times]:
                audit.log.validate_time(t)
        except audit.errors.MalformedError:
            return False
        keys = [audit.log.time_key(t) for t in [*([last] if last else []), *times]]
        return keys == sorted(keys)

    if last is not None:
        try:
            audit.log.validate_time(last)
        except audit.errors.MalformedError:
            return  # the scan only ever passes the key of a valid time
    key = audit.log.time_key(last) if last is not None else None
    assert audit.log._times_valid(times, key) == definition()
