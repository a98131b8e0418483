"""Fast path of ``lottery.run``: decide that instance bytes are valid and turn them into columns
and the SHA-256 of their canonical form with msgspec (typed C decoding), without the
``Instance`` object tree.

It only ever *accepts*: ``decode`` returns None whenever it cannot prove the input valid (any
decode or type error, an escape anywhere in the text, a non-BMP school id, ...), and the caller
then runs the exact validator (``lottery.model.parse_instance``), which alone decides and names
errors.  So error messages and their order are those of the exact validator by construction;
tests/lottery/test_fast.py checks that both paths accept the same inputs and agree on them.

Why the checks below suffice, given ``b"\\\\" not in data`` (no JSON escapes):

* every string's text is its raw UTF-8, so C0 controls cannot occur (raw ones are not JSON) and
  the DEL/C1 controls are found by a search of the ids (of DEL alone in ASCII text);
* duplicate member names: msgspec keeps the last one silently.  Each ':' byte of the text is
  either a name separator or inside a string; we count the separators of the members we kept plus
  the colons inside the strings we kept, and a dropped member adds at least its own separator;
* canonical form: msgspec encodes a Struct's fields and (``order="sorted"``) dict keys in
  code-point order, which is RFC 8785's UTF-16 order when the keys (fixed names and school ids)
  are in the BMP; strings needing no escape are emitted raw, integers in the safe range as plain
  decimals (tests/lottery/test_fast.py compares ``instance_sha256`` with the exact path's).

School ids are matched by a ``Literal`` of them, so each choice decodes to the one ``str`` object
of its school (no new string per choice).  ``typing`` caches ``Literal`` objects (at most 128).
Choices are turned into school indices by that identity (``_positions``, exact word equality of
object references, no hashing of text); if some choice were not one of those objects, each is
looked up by value instead.  Absent (``UNSET``) and null optional members are found the same
way, by the identity of those singletons.  Applicant ids arriving strictly increasing (code-point
``<``) are distinct and already in order, so then the sort for the uniqueness check is skipped.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import operator
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from lottery.canonical import MAX_SAFE_INT
from lottery.columns import Columns
from lottery.model import _CONTROL, _SEED, _has_repeats

_Id = Annotated[str, msgspec.Meta(min_length=1)]
_Capacity = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
_Priority = Annotated[int, msgspec.Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]


class _School(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    capacity: _Capacity
    id: _Id


class _Head(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    applicants: msgspec.Raw
    format: Literal["paiwei-instance/1"]
    group_policy: Literal["all-or-none", "admit-together"]
    mechanism: Literal["deferred-acceptance", "preference-rounds"]
    schools: list[_School]
    seed: str
    tie_breaking: Literal["single", "multiple"]


_HEAD = msgspec.json.Decoder(_Head)
# What a decode may raise on input this path cannot vouch for: msgspec's errors (validation
# included), UnicodeDecodeError (a ValueError: msgspec does not check every string's UTF-8)
# and RecursionError (deep nesting that the exact validator still names).  The exact validator
# then decides.
_UNDECIDED = (msgspec.MsgspecError, ValueError, RecursionError)
_ENCODER = msgspec.json.Encoder(order="sorted")


def _applicant_type(school_ids: tuple[str, ...]) -> tuple[Any, list[str]]:
    """The applicant Struct whose school-id fields accept exactly these ids, and the ``str``
    objects it decodes them to.  A ``Literal`` decodes each occurrence to the one object of its
    member (no 5M new strings).  ``typing`` caches ``Literal`` objects by value, so after an
    earlier decode of the same ids in this process its members are that decode's objects, not
    ``school_ids``: identity matching (``_positions``) must use the members."""
    school = Literal.__getitem__(school_ids)  # Literal[school_ids]: one member per school id
    members = list(typing.get_args(school))
    return msgspec.defstruct(
        "_Applicant",
        [
            ("choices", Annotated[tuple[school, ...], msgspec.Meta(min_length=1)]),  # type: ignore[valid-type]
            ("group", _Id | msgspec.UnsetType | None, msgspec.UNSET),
            ("id", _Id),
            ("priority", dict[school, _Priority] | msgspec.UnsetType | None, msgspec.UNSET),  # type: ignore[valid-type]
        ],
        forbid_unknown_fields=True,
        kw_only=True,
        gc=False,
    ), members


class _Canonical(msgspec.Struct, gc=False):
    """The instance for encoding: the fields of ``_Head`` with the decoded applicants."""

    applicants: list[Any]
    format: str
    group_policy: str
    mechanism: str
    schools: list[_School]
    seed: str
    tie_breaking: str


def decode(data: bytes) -> tuple[Columns, str] | None:
    """Columns and ``instance_sha256`` (hex) of valid instance bytes, or None when this path
    does not decide (the input may still be valid: the caller runs the exact validator)."""
    if b"\\" in data:
        return None
    try:
        head = _HEAD.decode(data)
    except _UNDECIDED:
        return None
    if not _SEED.fullmatch(head.seed):
        return None
    school_ids = [s.id for s in head.schools]
    sidx = {sid: i for i, sid in enumerate(school_ids)}
    joined_sids = "".join(school_ids)
    if len(sidx) != len(school_ids) or not (joined_sids.isascii() or max(joined_sids) <= "\uffff"):
        return None
    try:
        if school_ids:
            applicant, school_ids = _applicant_type(tuple(school_ids))
            apps = msgspec.json.decode(head.applicants, type=list[applicant])  # type: ignore[valid-type]
        else:  # no school to choose: only an empty roster is valid
            apps = msgspec.json.decode(head.applicants, type=tuple[()])
    except _UNDECIDED:
        return None
    cols = _columns(head, apps, school_ids, sidx, data)
    if cols is None:
        return None
    return cols, _canonical_sha256(head, apps)


_CHUNK = 1 << 15  # applicants encoded per block: a few MB, reused (no 80 MB of fresh pages)


def _canonical_sha256(head: _Head, apps: list[Any]) -> str:
    """SHA-256 (hex) of the instance's canonical form, encoded block by block: the members
    other than ``applicants`` (first in sorted order) around the applicants' elements."""
    shell = _ENCODER.encode(
        _Canonical(
            [],
            head.format,
            head.group_policy,
            head.mechanism,
            head.schools,
            head.seed,
            head.tie_breaking,
        )
    )
    cut = len(b'{"applicants":[')
    assert shell[: cut + 1] == b'{"applicants":[]'
    digest = hashlib.sha256(shell[:cut])
    block = bytearray()
    for lo in range(0, len(apps), _CHUNK):
        _ENCODER.encode_into(apps[lo : lo + _CHUNK], block)  # "[a,b,...]"
        if lo:
            digest.update(b",")
        digest.update(memoryview(block)[1:-1])
    digest.update(shell[cut:])  # "],..."
    return digest.hexdigest()


def _columns(
    head: _Head, apps: list[Any], school_ids: list[str], sidx: dict[str, int], data: bytes
) -> Columns | None:
    """The remaining rules of spec section 9 on the decoded applicants; None on any fault."""
    n = len(apps)
    ids = list(map(operator.attrgetter("id"), apps))
    ids_sorted = _sorted_ids(ids)
    if ids_sorted is None:
        return None  # a repeated applicant id
    chs = list(map(operator.attrgetter("choices"), apps))
    nch = np.fromiter(map(len, chs), dtype=np.int64, count=n)
    flat = _positions(itertools.chain.from_iterable(chs), int(nch.sum()), school_ids)
    if flat is None:  # a choice that is no school's own str object: look each one up
        flat = np.fromiter(
            map(sidx.__getitem__, itertools.chain.from_iterable(chs)),
            dtype=np.int64,
            count=int(nch.sum()),
        )
    if _has_repeats(flat, nch, len(school_ids)):
        return None
    prios = np.fromiter(map(operator.attrgetter("priority"), apps), dtype=object, count=n)
    groups = np.fromiter(map(operator.attrgetter("group"), apps), dtype=object, count=n)
    # which members are absent (UNSET) or null: identity, as word equality (see _positions)
    unset, null = _words(np.array([msgspec.UNSET, None], dtype=object)).tolist()
    prio_words, group_words = _words(prios), _words(groups)
    prio_absent, group_absent = prio_words == unset, group_words == unset
    # name separators: 7 top-level, 2 per school, per applicant id, choices, and the optional
    # members present (null included) with the priority object's own members
    members = 7 + 2 * len(school_ids) + 2 * n
    members += 2 * n - int(np.count_nonzero(prio_absent)) - int(np.count_nonzero(group_absent))
    with_prio = np.flatnonzero(~prio_absent & (prio_words != null))  # the objects (maybe empty)
    prio_dicts = prios[with_prio].tolist()
    prio_n = np.fromiter(map(len, prio_dicts), dtype=np.int64, count=len(prio_dicts))
    members += int(prio_n.sum())
    prio_school = np.fromiter(
        map(sidx.__getitem__, itertools.chain.from_iterable(prio_dicts)),
        dtype=np.int64,
        count=int(prio_n.sum()),
    )
    prio_value = np.fromiter(
        itertools.chain.from_iterable(map(dict.values, prio_dicts)),
        dtype=np.int64,
        count=int(prio_n.sum()),
    )
    in_group = np.flatnonzero(~group_absent & (group_words != null))  # the str ones
    group_rows = list(zip(in_group.tolist(), groups[in_group].tolist(), strict=True))
    group_choices: dict[str, tuple[str, ...]] = {}
    for i, g in group_rows:
        first = group_choices.setdefault(g, chs[i])
        if first is not chs[i] and first != chs[i]:
            return None
    if any(_contains(ids_sorted, g) for g in group_choices):
        return None
    joined = "".join(ids) + "".join(g for _, g in group_rows)  # school ids: checked BMP
    if _has_control(joined) or _has_control("".join(school_ids)):
        return None
    school_colons = "".join(school_ids).count(":")
    colons = joined.count(":") + school_colons
    if school_colons:  # then also inside the school ids of choices and priority keys
        per_school = np.fromiter(
            (sid.count(":") for sid in school_ids), dtype=np.int64, count=len(school_ids)
        )
        colons += int(per_school[flat].sum() + per_school[prio_school].sum())
    if members + colons != data.count(b":"):
        return None  # a member name repeated in some object (or a colon we cannot place)
    return Columns(
        seed=bytes.fromhex(head.seed),
        mechanism=head.mechanism,
        tie_breaking=head.tie_breaking,
        group_policy=head.group_policy,
        school_ids=school_ids,
        capacities=np.fromiter(
            (s.capacity for s in head.schools), dtype=np.int64, count=len(school_ids)
        ),
        app_ids=ids,
        app_nch=nch,
        app_flat=flat,
        prio_app=np.repeat(with_prio, prio_n),
        prio_school=prio_school,
        prio_value=prio_value,
        groups=group_rows,
        bmp_ids=joined.isascii() or max(joined, default="") <= "\uffff",
    )


_FIB = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd: multiplicative hashing


def _words(objs: np.ndarray) -> np.ndarray:
    """One word per element of an object array: equal exactly when the (live) objects are the
    same (the reference itself, an address in CPython)."""
    return np.frombuffer(objs, dtype=np.uintp).astype(np.uint64, copy=False)


def _positions(objs: Iterator[str], count: int, keys: list[str]) -> np.ndarray | None:
    """The position in ``keys`` (distinct objects) of each of the ``count`` objects ``objs``,
    matched by identity; None if some object is not one of ``keys``.

    A numpy object array's buffer holds one word per element that is the same for the same live
    object and differs between live ones (the object's address in CPython), so identity becomes
    integer equality: an open-addressing hash table of the keys' words, probed for all objects
    at once, each match an exact word comparison.  This replaces ``count`` dict lookups.
    """
    held = np.fromiter(objs, dtype=object, count=count)  # keeps the objects alive (words valid)
    key_objs = np.array(keys, dtype=object)
    words = _words(held)
    key_words = _words(key_objs)
    bits = max(4, (8 * len(keys)).bit_length())  # at most 1/8 of the slots used
    mask = np.uint64((1 << bits) - 1)
    shift = np.uint64(64 - bits)
    table = np.zeros(1 << bits, dtype=np.uint64)  # 0: empty (a word 0 would match it)
    value = np.zeros(1 << bits, dtype=np.int64)
    if not (key_words.all() and words.all()):
        return None
    # insert all keys, linear probing: a key moves on only past slots that stay occupied
    slot = (key_words * _FIB) >> shift
    todo = np.arange(len(keys))
    while todo.size:
        free = np.flatnonzero(table[slot[todo]] == 0)
        won_slot, first = np.unique(slot[todo[free]], return_index=True)  # one key per slot
        won = todo[free[first]]
        table[won_slot] = key_words[won]
        value[won_slot] = won
        lost = np.ones(todo.size, dtype=bool)
        lost[free[first]] = False
        todo = todo[lost]
        slot[todo] = (slot[todo] + np.uint64(1)) & mask
    # look all objects up: a probe ends at an equal word (found) or an empty slot (absent)
    at = (words * _FIB) >> shift
    out: np.ndarray = value[at]
    rest = np.flatnonzero(table[at] != words)
    while rest.size:
        if (table[at[rest]] == 0).any():
            return None
        at_rest = (at[rest] + np.uint64(1)) & mask
        at[rest] = at_rest
        hit = table[at_rest] == words[rest]
        out[rest[hit]] = value[at_rest[hit]]
        rest = rest[~hit]
    return out


def _sorted_ids(ids: list[str]) -> list[str] | None:
    """The ids in code-point order; None if an id repeats."""
    if all(map(operator.lt, ids, itertools.islice(ids, 1, None))):
        return ids  # strictly increasing: distinct and already in order
    ids_sorted = sorted(ids)
    if any(map(operator.eq, ids_sorted, itertools.islice(ids_sorted, 1, None))):
        return None
    return ids_sorted


def _has_control(s: str) -> bool:
    """Whether ``s`` (text of unescaped JSON strings) holds a control character: C0 ones
    cannot occur raw in JSON, so in ASCII text only DEL can (a substring search, no regex)."""
    if s.isascii():
        return "\x7f" in s
    return _CONTROL.search(s) is not None


def _contains(sorted_strs: list[str], s: str) -> bool:
    i = bisect.bisect_left(sorted_strs, s)
    return i < len(sorted_strs) and sorted_strs[i] == s
