"""The verifier's fast canonical-entry check agrees with the exact RFC 8785 serialiser."""

from __future__ import annotations

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit._canon import canonical_json
from audit.errors import MalformedError
from audit.log import _is_canonical, entry_bytes, parse_entry

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _rfc8785(value: object) -> bytes | None:
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except Exception:
        return None


@given(json_values)
def test_fast_check_equals_exact_check(value: object) -> None:
    body = {"v": value}
    exact = _rfc8785(body)
    candidates = [orjson.dumps(body, option=orjson.OPT_SORT_KEYS)]
    if exact is not None:
        candidates.append(exact)
    for raw in candidates:
        parsed = orjson.loads(raw)
        # the exact rule: the bytes are what the project's canonicaliser writes for their value
        # (a value with no paiwei canonical form, e.g. an integer beyond 2^53 - 1, never is)
        try:
            expected = canonical_json(parsed) == raw
        except Exception:
            expected = False
        assert _is_canonical(raw, parsed) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"x": 1.0},  # RFC 8785 writes 1
        {"x": 1e21},
        {"x": 2**53},  # beyond the safe range
        {"\U0001d516": 1, "\ufb01": 2},  # UTF-16 key order differs from code-point order
        {"s": 'quote " backslash \\ 1.5e3 inside a string'},
    ],
)
def test_awkward_bodies_are_judged_exactly(body: dict[str, object]) -> None:
    exact = _rfc8785(
        {"actor": "a", "body": body, "kind": "k", "seq": 0, "time": "2026-01-01T00:00:00Z"}
    )
    loose = orjson.dumps(
        {"actor": "a", "body": body, "kind": "k", "seq": 0, "time": "2026-01-01T00:00:00Z"},
        option=orjson.OPT_SORT_KEYS,
    )
    if exact is not None:
        assert parse_entry(exact).body == orjson.loads(exact)["body"]
    if loose != exact:
        with pytest.raises(MalformedError, match="canonical"):
            parse_entry(loose)


def test_entry_bytes_round_trip() -> None:
    raw = entry_bytes(3, "2026-06-01T08:00:00Z", "draw.roster", "officer#1", {"n": [1, "二"]})
    assert parse_entry(raw, expected_seq=3).raw == raw
