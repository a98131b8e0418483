"""paiwei-instance/1: the frozen, typed input of a draw, and its validating parser.

The validation rules are those of docs/lottery-spec.md, section "Instance".  ``parse_instance``
keeps the parsed JSON value "exactly as read" so that ``instance_sha256`` in the result is the
SHA-256 of its RFC 8785 form.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

import numpy as np
import orjson

from lottery._gc import paused_gc
from lottery.canonical import MAX_SAFE_INT, canonical_json_trusted
from lottery.errors import InvalidInstance

FORMAT = "paiwei-instance/1"
Mechanism = Literal["deferred-acceptance", "preference-rounds"]
TieBreaking = Literal["single", "multiple"]
GroupPolicy = Literal["all-or-none", "admit-together"]
MECHANISMS: tuple[Mechanism, ...] = ("deferred-acceptance", "preference-rounds")
TIE_BREAKINGS: tuple[TieBreaking, ...] = ("single", "multiple")
GROUP_POLICIES: tuple[GroupPolicy, ...] = ("all-or-none", "admit-together")

_TOP_KEYS = frozenset(
    ("format", "seed", "mechanism", "tie_breaking", "group_policy", "schools", "applicants")
)
_SCHOOL_KEYS = frozenset(("id", "capacity"))
_APPLICANT_KEYS = frozenset(("id", "choices", "priority", "group"))
# Control characters = Unicode general category Cc: C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SEED = re.compile("[0-9a-f]{64}")


class School(NamedTuple):
    """A school offering ``capacity`` seats (>= 0)."""

    id: str
    capacity: int


class Applicant(NamedTuple):
    """An applicant: ranked ``choices`` (school ids), ``priority`` per school (absent = 0), and the
    id of the ``group`` (twins, triplets) it belongs to, if any.  ``priority`` is a tuple of
    (school id, value) pairs sorted by school id."""

    id: str
    choices: tuple[str, ...]
    priority: tuple[tuple[str, int], ...] = ()
    group: str | None = None

    def priority_at(self, school_id: str) -> int:
        """The applicant's priority at ``school_id`` (0 when not listed)."""
        for s, p in self.priority:
            if s == school_id:
                return p
        return 0

    def to_json(self) -> dict[str, object]:
        """The JSON object of this applicant; ``priority``/``group`` only when non-empty."""
        obj: dict[str, object] = {"id": self.id, "choices": list(self.choices)}
        if self.priority:
            obj["priority"] = dict(self.priority)
        if self.group is not None:
            obj["group"] = self.group
        return obj


@dataclass(frozen=True, slots=True)
class Instance:
    """A validated paiwei-instance/1.

    Build one with ``parse_instance(bytes)`` or directly (the constructor validates by
    round-tripping through the same rules).  ``source`` is the JSON value exactly as read; it is
    private to the package and must not be mutated.
    """

    seed: bytes
    mechanism: Mechanism
    tie_breaking: TieBreaking
    group_policy: GroupPolicy
    schools: tuple[School, ...]
    applicants: tuple[Applicant, ...]
    source: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    bmp_ids: bool = field(default=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.source is None:
            checked = parse_instance(orjson.dumps(self.to_json()))
            object.__setattr__(self, "source", checked.source)
            object.__setattr__(self, "bmp_ids", checked.bmp_ids)

    def to_json(self) -> dict[str, Any]:
        """The instance as a JSON value (the one that was read, if it was parsed)."""
        if self.source is not None:
            return dict(self.source)
        return {
            "format": FORMAT,
            "seed": self.seed.hex(),
            "mechanism": self.mechanism,
            "tie_breaking": self.tie_breaking,
            "group_policy": self.group_policy,
            "schools": [{"id": s.id, "capacity": s.capacity} for s in self.schools],
            "applicants": [a.to_json() for a in self.applicants],
        }

    def canonical(self) -> bytes:
        """RFC 8785 form of the instance as read."""
        return canonical_json_trusted(self.to_json(), bmp_keys=self.bmp_ids)

    def sha256(self) -> bytes:
        """SHA-256 of ``canonical()``; hex of it is the result's ``instance_sha256``."""
        return hashlib.sha256(self.canonical()).digest()

    def digest_without_seed(self) -> bytes:
        """SHA-256 of the RFC 8785 form of the instance object with the "seed" member removed.

        This commits to the frozen roster before the seed exists (the audit log's draw.roster).
        """
        obj = self.to_json()
        obj.pop("seed", None)
        return hashlib.sha256(canonical_json_trusted(obj, bmp_keys=self.bmp_ids)).digest()


def _tname(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def _check_int(v: object, where: str, minimum: int, ctx: str) -> int:
    if type(v) is not int:
        raise InvalidInstance(where, f"must be an integer, got {_tname(v)} ({ctx})")
    if not minimum <= v <= MAX_SAFE_INT:
        raise InvalidInstance(where, f"{v} is out of range [{minimum}, {MAX_SAFE_INT}] ({ctx})")
    return v


def _check_id(v: object, where: str) -> str:
    if type(v) is not str:
        raise InvalidInstance(where, f"must be a string, got {_tname(v)}")
    if not v:
        raise InvalidInstance(where, "must not be empty")
    if _CONTROL.search(v):
        raise InvalidInstance(where, f"{v!r} contains a control character")
    return v


_NAME = re.compile("[A-Za-z_][A-Za-z0-9_]*")


def member_path(base: str, name: str) -> str:
    """The path of member ``name`` of the value at ``base`` (spec section 9): ``.name`` when the
    name is an identifier, else ``["…"]`` holding its RFC 8785 string form; no dot at the root."""
    if _NAME.fullmatch(name):
        return f"{base}.{name}" if base else name
    return f"{base}[{orjson.dumps(name).decode()}]"


def _unknown(obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for k in obj:  # document order
        if k not in allowed:
            raise InvalidInstance(member_path(where, k), "unknown member")


class _Dup(dict[str, Any]):
    """An object that had a repeated member name (``dup``: the first name seen twice)."""

    dup = ""


def _dup_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for k, _ in pairs:
        if k in seen:
            d = _Dup(pairs)
            d.dup = k
            return d
        seen.add(k)
    return dict(pairs)


def _find_duplicate_member(data: bytes) -> Any:
    """Exact duplicate-member check (spec 9, rule 2) with the standard library's parser: raise
    for the first object in document pre-order with a repeated name; else return the value."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # orjson admits depth 1024; json recurses per level
    try:
        value = json.loads(data, object_pairs_hook=_dup_hook)
    except (ValueError, RecursionError):
        return None  # orjson accepted the text; the stdlib parser teaches nothing more
    finally:
        sys.setrecursionlimit(limit)
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, dict):
            if type(v) is _Dup:
                raise InvalidInstance(
                    member_path(where, v.dup), "member name appears twice in one object"
                )
            stack.extend(reversed([(member_path(where, k), x) for k, x in v.items()]))
        elif isinstance(v, list):
            stack.extend(reversed([(f"{where}[{i}]", x) for i, x in enumerate(v)]))
    return value


def parse_instance(data: bytes) -> Instance:
    """Parse and validate paiwei-instance/1 bytes; raise ``InvalidInstance`` naming the field.

    A fast whole-document path decides validity; when it finds a fault, ``_ordered_check``
    re-walks the instance in the order of spec section 9 so the error reported is the first
    one in that order, whatever the fast path tripped on.
    """
    try:
        with paused_gc():
            return _parse(data)
    except InvalidInstance as exc:
        if exc.field == "(document)":
            raise
        fast = exc
    value = _find_duplicate_member(data)
    _ordered_check(orjson.loads(data) if value is None else value)
    raise fast  # unreachable unless the two paths disagree: still an error, never a pass


def _check_header(obj: Any) -> None:
    """Rule 3 of spec section 9 for the top-level object and its scalar members."""
    if type(obj) is not dict:
        raise InvalidInstance("(document)", f"must be a JSON object, got {_tname(obj)}")
    _unknown(obj, _TOP_KEYS, "")
    for k in ("format", "seed", "mechanism", "tie_breaking", "group_policy", "schools"):
        if k not in obj:
            raise InvalidInstance(k, "missing")
    if "applicants" not in obj:
        raise InvalidInstance("applicants", "missing")
    if obj["format"] != FORMAT:
        raise InvalidInstance("format", f"must be {FORMAT!r}, got {obj['format']!r}")
    seed_hex = obj["seed"]
    if type(seed_hex) is not str or not _SEED.fullmatch(seed_hex):
        raise InvalidInstance("seed", "must be 64 lowercase hexadecimal characters (32 bytes)")
    for k, options in (
        ("mechanism", MECHANISMS),
        ("tie_breaking", TIE_BREAKINGS),
        ("group_policy", GROUP_POLICIES),
    ):
        if obj[k] not in options:
            raise InvalidInstance(k, f"must be one of {', '.join(options)}; got {obj[k]!r}")


def _check_schools(raw_schools: Any) -> list[School]:
    """Rule 3 of spec section 9 for ``schools``, in array order."""
    if type(raw_schools) is not list:
        raise InvalidInstance("schools", f"must be an array, got {_tname(raw_schools)}")
    schools: list[School] = []
    school_ids: set[str] = set()
    for i, s in enumerate(raw_schools):
        where = f"schools[{i}]"
        if type(s) is not dict:
            raise InvalidInstance(where, f"must be an object, got {_tname(s)}")
        _unknown(s, _SCHOOL_KEYS, where)
        if "id" not in s:
            raise InvalidInstance(f"{where}.id", "missing")
        sid = _check_id(s["id"], f"{where}.id")
        if sid in school_ids:
            raise InvalidInstance(f"{where}.id", f"duplicate school id {sid!r}")
        school_ids.add(sid)
        if "capacity" not in s:
            raise InvalidInstance(f"{where}.capacity", f"missing (school {sid!r})")
        cap = _check_int(s["capacity"], f"{where}.capacity", 0, f"school {sid!r}")
        schools.append(School(sid, cap))
    return schools


def _ordered_check(obj: Any) -> None:
    """Spec section 9, rule 3 onwards: the checks in their normative order; raise the first."""
    _check_header(obj)
    school_ids = {sc.id for sc in _check_schools(obj["schools"])}
    raw_apps = obj["applicants"]
    if type(raw_apps) is not list:
        raise InvalidInstance("applicants", f"must be an array, got {_tname(raw_apps)}")
    app_ids: set[str] = set()
    groups: dict[str, tuple[list[str], int]] = {}
    for i, a in enumerate(raw_apps):
        _check_applicant(i, a, school_ids, app_ids, groups)
        app_ids.add(a["id"])
    for g, (_, i) in groups.items():  # order of first appearance
        if g in app_ids:
            raise InvalidInstance(
                f"applicants[{i}].group", f"group id {g!r} equals an applicant id"
            )


def _check_applicant(
    i: int,
    a: object,
    school_ids: set[str],
    app_ids: set[str],
    groups: dict[str, tuple[list[str], int]],
) -> None:
    """One applicant's checks in spec order (section 9, rule 3)."""
    where = f"applicants[{i}]"
    if type(a) is not dict:
        raise InvalidInstance(where, f"must be an object, got {_tname(a)}")
    _unknown(a, _APPLICANT_KEYS, where)
    if "id" not in a:
        raise InvalidInstance(f"{where}.id", "missing")
    aid = _check_id(a["id"], f"{where}.id")
    if aid in app_ids:
        raise InvalidInstance(f"{where}.id", f"duplicate applicant id {aid!r}")
    if "choices" not in a:
        raise InvalidInstance(f"{where}.choices", f"missing (applicant {aid!r})")
    choices = a["choices"]
    if type(choices) is not list or not choices:
        raise InvalidInstance(
            f"{where}.choices", f"must be a non-empty array of school ids (applicant {aid!r})"
        )
    seen: set[str] = set()
    for j, c in enumerate(choices):
        if type(c) is not str or c not in school_ids:
            raise InvalidInstance(
                f"{where}.choices[{j}]", f"unknown school {c!r} (applicant {aid!r})"
            )
        if c in seen:
            raise InvalidInstance(
                f"{where}.choices[{j}]", f"school {c!r} is listed twice (applicant {aid!r})"
            )
        seen.add(c)
    rp = a.get("priority")
    if rp is not None:
        if type(rp) is not dict:
            raise InvalidInstance(
                f"{where}.priority", f"must be an object, got {_tname(rp)} (applicant {aid!r})"
            )
        for sid, p in rp.items():
            at = member_path(f"{where}.priority", sid)
            if sid not in school_ids:
                raise InvalidInstance(at, f"unknown school {sid!r} (applicant {aid!r})")
            _check_int(p, at, -MAX_SAFE_INT, f"applicant {aid!r}")
    group = a.get("group")
    if group is not None:
        _check_id(group, f"{where}.group")
        first = groups.get(group)
        if first is None:
            groups[group] = (choices, i)
        elif first[0] != choices:
            raise InvalidInstance(
                f"{where}.choices",
                f"applicant {aid!r} is in group {group!r} but its choices differ from those "
                f"of applicants[{first[1]}]",
            )


def _parse(data: bytes) -> Instance:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInstance("(document)", f"not valid UTF-8 JSON: {exc}") from None
    _check_header(obj)
    raw_schools = obj["schools"]
    schools = _check_schools(raw_schools)
    school_ids = {sc.id for sc in schools}

    raw_apps = obj["applicants"]
    if type(raw_apps) is not list:
        raise InvalidInstance("applicants", f"must be an array, got {_tname(raw_apps)}")
    applicants, app_ids, group_choices, members, colons = _fast_applicants(raw_apps, school_ids)

    # Duplicate member names are invalid (the "last one wins" of common parsers is ambiguous).
    # Fast exact check: with no escapes in the text, every ':' byte is either a name separator or
    # inside a string we kept, so the counts match iff no member was overwritten.
    if b"\\" in data or _separator_colons(raw_schools, raw_apps, members, colons) != data.count(
        b":"
    ):
        _find_duplicate_member(data)

    all_ids = "".join(school_ids) + "".join(app_ids) + "".join(group_choices)
    bmp = all_ids.isascii() or max(all_ids) <= "\uffff"
    return Instance(
        seed=bytes.fromhex(obj["seed"]),
        mechanism=cast(Mechanism, obj["mechanism"]),
        tie_breaking=cast(TieBreaking, obj["tie_breaking"]),
        group_policy=cast(GroupPolicy, obj["group_policy"]),
        schools=tuple(schools),
        applicants=tuple(applicants),
        source=obj,
        bmp_ids=bmp,
    )


def _fault() -> InvalidInstance:
    # The fast path only decides validity; parse_instance re-walks in spec order to name the
    # first fault, so this placeholder never reaches a caller.
    return InvalidInstance("applicants", "invalid")


def _fast_applicants(
    raw_apps: list[Any], school_ids: set[str]
) -> tuple[list[Applicant], set[str], dict[str, tuple[list[str], int]], int, int]:
    """Whole-array checks of ``applicants`` (C-level map/set operations; per-applicant Python
    only for the few with a priority or a group).  Raises on any fault, without naming it."""
    n = len(raw_apps)
    if n and set(map(type, raw_apps)) != {dict}:
        raise _fault()
    try:
        ids = list(map(_get_id, raw_apps))
        chs = list(map(_get_choices, raw_apps))
    except KeyError:
        raise _fault() from None
    if n and (set(map(type, ids)) != {str} or set(map(type, chs)) != {list}):
        raise _fault()
    app_ids = set(ids)
    if len(app_ids) != n or "" in app_ids:
        raise _fault()
    joined_ids = "".join(ids)
    if _CONTROL.search(joined_ids):
        raise _fault()
    lens = list(map(len, chs))
    if n and min(lens) < 1:
        raise _fault()
    prios = list(map(dict.get, raw_apps, itertools.repeat("priority")))
    groups = list(map(dict.get, raw_apps, itertools.repeat("group")))
    known = 2 * n + sum(map(dict.__contains__, raw_apps, itertools.repeat("priority")))
    known += sum(map(dict.__contains__, raw_apps, itertools.repeat("group")))
    members = sum(map(len, raw_apps))
    if members != known:  # every applicant has id and choices: so the excess is unknown names
        raise _fault()
    sidx = {sid: i for i, sid in enumerate(school_ids)}
    try:
        flat = np.fromiter(
            map(sidx.__getitem__, itertools.chain.from_iterable(chs)),
            dtype=np.int64,
            count=sum(lens),
        )
    except (KeyError, TypeError):  # unknown school, or an unhashable entry
        raise _fault() from None
    if _has_repeats(flat, lens, len(sidx)):
        raise _fault()
    prio_t: list[tuple[tuple[str, int], ...]] = [()] * n
    for i in [i for i, p in enumerate(prios) if p is not None]:
        rp = prios[i]
        if type(rp) is not dict:
            raise _fault()
        if rp:
            if not rp.keys() <= school_ids or not all(
                type(p) is int and -MAX_SAFE_INT <= p <= MAX_SAFE_INT for p in rp.values()
            ):
                raise _fault()
            prio_t[i] = tuple(sorted(rp.items()))
            members += len(rp)
    group_choices: dict[str, tuple[list[str], int]] = {}
    group_colons = 0
    for i in [i for i, g in enumerate(groups) if g is not None]:
        group = groups[i]
        if type(group) is not str or not group or _CONTROL.search(group):
            raise _fault()
        group_colons += group.count(":")
        first = group_choices.get(group)
        if first is None:
            group_choices[group] = (chs[i], i)
        elif first[0] != chs[i]:
            raise _fault()
    for g in group_choices:
        if g in app_ids:
            raise _fault()
    new = tuple.__new__
    applicants = list(
        map(
            new, itertools.repeat(Applicant), zip(ids, map(tuple, chs), prio_t, groups, strict=True)
        )
    )
    colons = joined_ids.count(":") + group_colons
    return applicants, app_ids, group_choices, members, colons


def _get_id(a: dict[str, Any]) -> Any:
    return a["id"]


def _get_choices(a: dict[str, Any]) -> Any:
    return a["choices"]


def _has_repeats(flat: np.ndarray, lens: list[int] | np.ndarray, n_s: int) -> bool:
    """True if some applicant's choices (school indices, row after row in ``flat``) repeat."""
    lens = np.asarray(lens, dtype=np.int64)
    if not lens.size:
        return False
    width = int(lens[0])
    if lens.min() == lens.max():
        rows = flat.reshape(len(lens), width)
        if width <= 8:  # few columns: compare every pair of them
            return any(
                bool((rows[:, i] == rows[:, j]).any())
                for i in range(width)
                for j in range(i + 1, width)
            )
        rows = np.sort(rows, axis=1)
        return bool((rows[:, 1:] == rows[:, :-1]).any())
    row = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    key = np.sort(row * n_s + flat)
    return bool((key[1:] == key[:-1]).any())


def _separator_colons(
    raw_schools: list[dict[str, Any]],
    raw_apps: list[dict[str, Any]],
    applicant_members: int,
    id_colons: int,
) -> int:
    """Expected number of ':' bytes in an escape-free text of this (validated) instance: one
    per object member plus those inside the strings we kept."""
    members = 7 + 2 * len(raw_schools) + applicant_members
    colons = id_colons
    school_colon = {s["id"]: s["id"].count(":") for s in raw_schools if ":" in s["id"]}
    colons += sum(school_colon.values())
    if school_colon:
        for a in raw_apps:
            colons += sum(school_colon.get(c, 0) for c in a["choices"])
            p = a.get("priority")
            if p:
                colons += sum(school_colon.get(c, 0) for c in p)
    return int(members + colons)
