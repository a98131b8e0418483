"""The draw: paiwei-lottery/1 (docs/lottery-spec.md is normative; this is its implementation).

Theory of operation
-------------------
0. *Input.*  The engine reads ``lottery.columns.Columns`` (numpy arrays of school indices,
   priorities, groups).  ``run`` gets them straight from the bytes via ``lottery._fast`` (msgspec)
   when that proves the instance valid, and otherwise via the exact validator and ``Instance``.
1. *Units.*  Applicants sharing a ``group`` form one unit (id = group id), others are units of
   their own (id = applicant id).  A unit's priority at a school is its members' maximum.
2. *Tickets.*  ``lottery.ticket.ticket`` per unit (``single``) or per (unit, school) pair
   (``multiple``), in bulk with the HMAC key pads hashed once (``hmac_sha256_many``).
3. *School orders.*  Every school ranks the units that chose it by (priority desc, ticket asc,
   unit id asc).  All (unit, choice) pairs are sorted once on one packed int64 key (school,
   priority rank, rank of the ticket's first 8 bytes, choice index); if two tickets agree in
   those bytes (never seen in practice) the exact pure-Python sort is used instead, so the
   result is always the spec's.  A pair is then its global position ``g`` in that sort.
4. *Mechanism.*  The spec's synchronous rounds, each round choosing at every school at once
   with numpy: candidates sorted by ``g``, ``before`` = total size ahead of a unit at its
   school; admit-together keeps ``before < seats``, all-or-none keeps ``before + size <=
   seats`` and walks a school unit by unit only where a group is skipped with seats left.
   DA keeps what schools hold sorted, so each round merges sorted runs instead of sorting.
5. *Result.*  Assignments, per-school admitted lists and waitlists, tickets (``single`` only).
   ``run`` writes its bytes straight from these arrays with ``lottery._write`` (numpy byte
   matrices, no per-applicant objects) when every id is plain: no JSON escape, nothing beyond
   the BMP, lengths even enough to pad; otherwise ``_result`` builds a ``Result`` and
   ``result_bytes`` serialises it (the generic path, also ``draw``'s).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lottery import _fast
from lottery._gc import paused_gc
from lottery._write import result_chunks
from lottery.canonical import canonical_json_trusted
from lottery.columns import Columns, columns_of
from lottery.model import Instance, parse_instance
from lottery.ticket import hmac_sha256_many

RESULT_FORMAT = "paiwei-result/1"


class Placement(NamedTuple):
    """Where an applicant was admitted: school id and the 1-based rank of that school among its
    choices."""

    school: str
    choice: int


@dataclass(frozen=True, slots=True)
class SchoolOutcome:
    """A school's admitted applicants (in the school's order, unit members by id) and its
    waitlist (applicants who chose it and are unplaced or placed at a school they ranked lower)."""

    admitted: tuple[str, ...]
    waitlist: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of ``draw``; ``result_bytes`` gives its exact JSON bytes."""

    instance_sha256: str
    assignments: Mapping[str, Placement | None]
    schools: Mapping[str, SchoolOutcome]
    tickets: Mapping[str, str] | None
    bmp_ids: bool = field(default=True, compare=False, repr=False)

    def to_json(self) -> dict[str, object]:
        """The paiwei-result/1 JSON value."""
        obj: dict[str, object] = {
            "format": RESULT_FORMAT,
            "instance_sha256": self.instance_sha256,
            "assignments": _assignments_json(self.assignments),
            "schools": {
                s: {"admitted": list(o.admitted), "waitlist": list(o.waitlist)}
                for s, o in self.schools.items()
            },
        }
        if self.tickets is not None:
            obj["tickets"] = dict(self.tickets)
        return obj


def _assignments_json(assignments: Mapping[str, Placement | None]) -> dict[str, object]:
    """``{"school", "choice"}`` objects, one per distinct placement (shared, not copied)."""
    memo: dict[Placement, dict[str, object]] = {}

    def js(p: Placement | None) -> dict[str, object] | None:
        if p is None:
            return None
        o = memo.get(p)
        if o is None:
            o = memo[p] = {"school": p[0], "choice": p[1]}
        return o

    return dict(zip(assignments.keys(), map(js, assignments.values()), strict=True))


def result_bytes(result: Result) -> bytes:
    """The exact bytes of result.json: RFC 8785 canonical form followed by one b"\\n"."""
    return canonical_json_trusted(result.to_json(), bmp_keys=result.bmp_ids) + b"\n"


def run(data: bytes) -> bytes:
    """``result_bytes(draw(parse_instance(data)))`` — what ``python -m lottery run`` writes."""
    return b"".join(run_chunks(data))


def run_chunks(data: bytes) -> list[bytes]:
    """The bytes of ``run(data)`` as consecutive chunks (the CLI writes them one by one).

    They are written straight from the engine's arrays (``lottery._write``) when every id is a
    BMP string needing no JSON escape; otherwise through ``Result`` and the serialiser.
    """
    with paused_gc():
        cols, sha = _load(data)
        units = _Units(cols)
        orders, placed_k, held = _assign(cols, units, cols.seed)
        return _write(cols, units, orders, placed_k, held, sha)


def _load(data: bytes) -> tuple[Columns, str]:
    """Validate instance bytes: their columns and ``instance_sha256`` (hex)."""
    fast = _fast.decode(data)
    if fast is not None:
        return fast
    inst = parse_instance(data)  # the exact validator decides (and names the first error)
    return columns_of(inst), inst.sha256().hex()


def _write(
    cols: Columns,
    units: _Units,
    orders: _Orders,
    placed_k: np.ndarray,
    held: np.ndarray,
    sha: str,
) -> list[bytes]:
    """The result bytes, as chunks."""
    # Only the writer runs from here on: free what the mechanism alone needed, so the writer
    # reuses that memory.
    units.flat = units.neg_prio = orders.pair_g = np.zeros(0, dtype=np.int64)
    chunks = result_chunks(cols, units, orders, placed_k, held, sha)
    if chunks is None:
        return [result_bytes(_result(cols, units, orders, placed_k, held, sha))]
    return chunks


class _Units:
    """Units of an instance as numpy columns indexed by unit number (units numbered in order of
    their first member in the instance).

    ``flat`` holds each unit's choices (school indices) unit after unit, ``off[u]`` where unit
    ``u``'s start; ``neg_prio`` the negated unit priority of every (unit, choice) pair.
    """

    def __init__(self, cols: Columns) -> None:
        self.school_ids = cols.school_ids
        app_ids = cols.app_ids
        n_a = len(app_ids)
        app_nch = cols.app_nch
        app_off = np.zeros(n_a + 1, dtype=np.int64)
        np.cumsum(app_nch, out=app_off[1:])
        # Priority of every (applicant, choice) pair; 0 where none is listed.
        app_prio = np.zeros(int(app_off[-1]), dtype=np.int64)
        if cols.prio_app.size:
            # every pair of an applicant with a listed priority, against each of its entries
            nch = app_nch[cols.prio_app]
            at = _row_positions(app_off, cols.prio_app)
            entry = np.repeat(np.arange(cols.prio_app.size), nch)
            hit = cols.app_flat[at] == cols.prio_school[entry]
            app_prio[at[hit]] = cols.prio_value[entry[hit]]
        if not cols.groups:
            self.ids = app_ids
            self.unit_of = np.arange(n_a, dtype=np.int64)
            self.nch = app_nch
            self.flat = cols.app_flat
            self.size = np.ones(n_a, dtype=np.int64)
            self.names = np.array(app_ids, dtype=object)
            np.negative(app_prio, out=app_prio)
            self.neg_prio = app_prio
        else:
            self._grouped(cols, app_off, app_prio)
        self.off = np.zeros(len(self.ids) + 1, dtype=np.int64)
        np.cumsum(self.nch, out=self.off[1:])
        self.name_off = np.zeros(len(self.ids), dtype=np.int64)
        np.cumsum(self.size[:-1], out=self.name_off[1:])

    def _grouped(self, cols: Columns, app_off: np.ndarray, app_prio: np.ndarray) -> None:
        app_ids = cols.app_ids
        n_a = len(app_ids)
        first_of: dict[str, int] = {}  # group id -> its first member
        lead_of = [first_of.setdefault(g, i) for i, g in cols.groups]
        lead = np.arange(n_a, dtype=np.int64)  # each applicant's unit's first member
        lead[[i for i, _ in cols.groups]] = lead_of
        is_first = lead == np.arange(n_a, dtype=np.int64)
        unit_num = np.cumsum(is_first) - 1
        self.unit_of = unit_num[lead]
        first = np.flatnonzero(is_first)
        ids = list(map(app_ids.__getitem__, first.tolist()))
        for g, u in zip(first_of, unit_num[list(first_of.values())].tolist(), strict=True):
            ids[u] = g
        self.ids = ids
        n_u = len(ids)
        self.size = np.bincount(self.unit_of, minlength=n_u).astype(np.int64)
        # Members unit after unit, each unit's members by id.
        by_unit = np.argsort(self.unit_of, kind="stable")
        names = list(map(app_ids.__getitem__, by_unit.tolist()))
        name_off = np.zeros(n_u + 1, dtype=np.int64)
        np.cumsum(self.size, out=name_off[1:])
        multi = np.flatnonzero(self.size > 1)
        for lo, hi in zip(name_off[multi].tolist(), name_off[multi + 1].tolist(), strict=True):
            names[lo:hi] = sorted(names[lo:hi])
        self.names = np.array(names, dtype=object)
        # A unit's choices are its first member's (validation made them identical).
        self.nch = cols.app_nch[first]
        first_pairs = np.repeat(is_first, cols.app_nch)
        self.flat = cols.app_flat[first_pairs]
        # A unit's priority at a school is the highest of its members' (absent = 0).
        prio = app_prio[first_pairs]
        others = np.flatnonzero(~is_first)
        if others.size:
            u_off = np.zeros(n_u + 1, dtype=np.int64)
            np.cumsum(self.nch, out=u_off[1:])
            src = _row_positions(app_off, others)
            dst = _row_positions(u_off, self.unit_of[others])
            np.maximum.at(prio, dst, app_prio[src])
        np.negative(prio, out=prio)
        self.neg_prio = prio

    @property
    def choices(self) -> list[list[int]]:
        """Each unit's choices as a list of school indices."""
        flat = self.flat.tolist()
        off = self.off.tolist()
        return [flat[a:b] for a, b in itertools.pairwise(off)]

    def member_array(self) -> np.ndarray:
        """Every unit's member ids, unit after unit (an object array)."""
        return self.names

    def member_offsets(self) -> np.ndarray:
        """Index in ``member_array()`` of each unit's first member."""
        return self.name_off


def _row_positions(off: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions ``off[r] .. off[r + 1] - 1`` of every row ``r`` in ``rows``, row after row."""
    lens = off[rows + 1] - off[rows]
    total = int(lens.sum())
    start = np.repeat(off[rows] - (np.cumsum(lens) - lens), lens)
    start += np.arange(total, dtype=np.int64)
    return start


def _tickets(
    seed: bytes, tie_breaking: str, units: _Units
) -> tuple[list[bytes], list[bytes] | None]:
    """Per-unit tickets (single) or per-(unit, choice) tickets, unit after unit (multiple):
    ``lottery.ticket.ticket`` of each, computed in bulk (same bytes)."""
    # utf8(u) || 0x01 for every unit, from one join and split in C: ids never contain
    # control characters, so 0x02 can only be the separator.
    ids = units.ids
    unit_info = ("\x01\x02".join(ids) + "\x01").encode().split(b"\x02") if ids else []
    if tie_breaking == "single":
        return hmac_sha256_many(seed, unit_info), None
    sch = [s.encode() + b"\x00" for s in units.school_ids]
    ub = list(unit_info)
    pre = map(sch.__getitem__, units.flat.tolist())
    post = map(ub.__getitem__, np.repeat(np.arange(len(ub)), units.nch).tolist())
    return [], hmac_sha256_many(seed, map(bytes.__add__, pre, post))


class _Orders:
    """Every school's order of the units that chose it, as flat numpy arrays.

    A (unit, choice) pair is identified by its *global position* ``g``: pairs sorted by
    (school, priority desc, ticket asc, unit id asc), so school ``s`` owns the positions
    ``starts[s] <= g < starts[s + 1]`` and a smaller ``g`` is served first there.
    """

    def __init__(self, tickets: tuple[list[bytes], list[bytes] | None], units: _Units) -> None:
        single, multi = tickets
        self.single_tickets = single
        n_s = len(units.school_ids)
        n_u = len(units.ids)
        nch, off = units.nch, units.off
        n_pairs = int(off[-1])
        p_school = units.flat
        p_unit = np.repeat(np.arange(n_u, dtype=np.int64), nch)
        p_k = np.arange(n_pairs, dtype=np.int64) - off[:-1][p_unit]
        fast = self._fast_order(single, multi, p_school, p_unit, p_k, units.neg_prio, n_s, n_u)
        if fast is None:
            order = self._exact_order(units, single, multi, units.neg_prio.tolist())
            fast = order, p_unit[order], p_k[order], p_school[order]
        order, self.g_unit, self.g_k, self.g_school = fast
        del p_unit, p_k, fast
        self.n_schools = n_s
        self.off = off
        self.nch = nch
        sizes = units.size
        self.unit_size = sizes
        self.grouped = bool(n_u and sizes.max() > 1)
        self.g_size = sizes[self.g_unit]
        counts = np.bincount(self.g_school, minlength=n_s)
        self.starts = np.zeros(n_s + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])
        self.pair_g = np.empty(n_pairs, dtype=np.int64)  # unit-major pair -> position
        self.pair_g[order] = np.arange(n_pairs, dtype=np.int64)

    @staticmethod
    def _fast_order(
        single: list[bytes],
        multi: list[bytes] | None,
        p_school: np.ndarray,
        p_unit: np.ndarray,
        p_k: np.ndarray,
        p_neg_prio: np.ndarray,
        n_s: int,
        n_u: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Sort the pairs by (school, -priority, ticket) using the first 8 ticket bytes: the
        sorting permutation and the unit, choice index and school of each sorted pair; None if
        two compared tickets agree there (then the exact sort decides)."""
        n_pairs = len(p_school)
        if n_pairs == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        if multi is None:
            t0 = np.frombuffer(b"".join(single), dtype=">u8")[::4]
            by_ticket = np.argsort(t0, kind="stable")
            st = t0[by_ticket]
            if bool((st[1:] == st[:-1]).any()):
                return None
            rank = np.empty(n_u, dtype=np.int64)
            rank[by_ticket] = np.arange(n_u, dtype=np.int64)
            p_rank = rank[p_unit]
            n_rank = n_u
        else:
            t0 = np.frombuffer(b"".join(multi), dtype=">u8")[::4]
            by_ticket = np.argsort(t0, kind="stable")
            st = t0[by_ticket]
            if bool((st[1:] == st[:-1]).any()):
                return None
            p_rank = np.empty(n_pairs, dtype=np.int64)
            p_rank[by_ticket] = np.arange(n_pairs, dtype=np.int64)
            n_rank = n_pairs
        lo = int(p_neg_prio.min())
        b_p = (int(p_neg_prio.max()) - lo).bit_length()  # bits of each key field
        b_r = (n_rank - 1).bit_length()
        b_k = int(p_k.max()).bit_length()
        if (n_s - 1).bit_length() + b_p + b_r + b_k > 62:  # no room for one packed key
            lex: np.ndarray = np.lexsort((p_rank, p_neg_prio, p_school))
            return lex, p_unit[lex], p_k[lex], p_school[lex]
        # One packed int64 key per pair; keys are distinct, so an unstable sort is exact.
        key = p_school << b_p
        key += p_neg_prio
        key -= lo
        key <<= b_r
        key += p_rank
        del p_rank  # in-place arithmetic and early frees: these arrays are 8 bytes x 5M pairs
        key <<= b_k
        key += p_k
        key.sort()
        # The sorted keys themselves give each pair's school and choice index (sequential
        # shifts instead of gathers through the permutation from the 5M-pair columns).
        k = key & ((1 << b_k) - 1)
        key >>= b_k
        school = key >> (b_r + b_p)
        key &= (1 << b_r) - 1
        r = key
        if multi is not None:
            named: np.ndarray = by_ticket[r]  # the rank is over pairs: it names the pair
            return named, p_unit[named], k, school
        unit = by_ticket[r]  # the unit with ticket rank r
        first_pair = np.zeros(n_u, dtype=np.int64)  # unit-major index of each unit's 1st pair
        np.cumsum(np.bincount(p_unit, minlength=n_u)[:-1], out=first_pair[1:])
        pairs: np.ndarray = first_pair[unit]
        pairs += k
        return pairs, unit, k, school

    @staticmethod
    def _exact_order(
        units: _Units,
        single: list[bytes],
        multi: list[bytes] | None,
        neg_prio: list[int],
    ) -> np.ndarray:
        keys = []
        i = 0
        for u, ch in enumerate(units.choices):
            for s in ch:
                t = single[u] if multi is None else multi[i]
                keys.append((s, neg_prio[i], t, units.ids[u], i))
                i += 1
        keys.sort()
        return np.fromiter((k[4] for k in keys), dtype=np.int64, count=len(keys))


def _choose(orders: _Orders, cand: np.ndarray, seats: np.ndarray, policy: str) -> np.ndarray:
    """Spec section 5 at every school at once: ``cand`` holds positions sorted ascending (so
    grouped by school, each school's candidates in its order); ``seats[s]`` is what school ``s``
    has.  Returns the mask of admitted candidates.

    With ``before`` = total size of the school's candidates ahead of a unit, admit-together
    admits exactly the units with ``before < seats``.  all-or-none admits the units with
    ``before + size <= seats`` as long as no unit is skipped while seats remain; a school where
    a multi-member unit is skipped with seats left is walked exactly, one unit at a time.
    """
    n = cand.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    sch = orders.g_school[cand]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(sch[1:], sch[:-1], out=first[1:])
    seg = np.cumsum(first) - 1
    seg_start = np.flatnonzero(first)
    have = seats[sch]
    if not orders.grouped:
        before = np.arange(n, dtype=np.int64) - seg_start[seg]
        result: np.ndarray = before < have
        return result
    sz = orders.g_size[cand]
    cs = np.cumsum(sz)
    before = cs - sz
    before -= before[seg_start][seg]
    if policy == "admit-together":
        result = before < have
        return result
    keep: np.ndarray = before + sz <= have
    bad = ~keep & (before < have)
    if bad.any():
        for i in np.unique(seg[bad]).tolist():
            lo = int(seg_start[i])
            hi = int(seg_start[i + 1]) if i + 1 < len(seg_start) else n
            left = int(have[lo])
            for j, z in enumerate(sz[lo:hi].tolist(), lo):
                keep[j] = z <= left
                if z <= left:
                    left -= z
    return keep


def draw(instance: Instance) -> Result:
    """Run the lottery on a validated instance (docs/lottery-spec.md, paiwei-lottery/1)."""
    with paused_gc():
        cols = columns_of(instance)
        units = _Units(cols)
        orders, placed_k, held = _assign(cols, units, instance.seed)
        return _result(cols, units, orders, placed_k, held, instance.sha256().hex())


def _assign(cols: Columns, units: _Units, seed: bytes) -> tuple[_Orders, np.ndarray, np.ndarray]:
    """Tickets, school orders and the mechanism for ``seed``: returns the orders, each unit's
    placed choice index (-1 = unplaced) and the admitted positions (ascending)."""
    orders = _Orders(_tickets(seed, cols.tie_breaking, units), units)
    placed_k, held = _mechanism(cols, orders)
    return orders, placed_k, held


def _mechanism(cols: Columns, orders: _Orders) -> tuple[np.ndarray, np.ndarray]:
    """Run the instance's mechanism on the school orders (spec section 6), all schools of a
    round at once."""
    n_s = orders.n_schools
    n_u = len(orders.nch)
    caps = cols.capacities
    policy = cols.group_policy
    nch, off, pair_g, g_unit = orders.nch, orders.off, orders.pair_g, orders.g_unit
    placed_k = np.full(n_u, -1, dtype=np.int64)
    if cols.mechanism == "deferred-acceptance":
        nxt = np.zeros(n_u, dtype=np.int64)
        free = np.arange(n_u, dtype=np.int64)
        held = np.zeros(0, dtype=np.int64)
        affected = np.zeros(n_s, dtype=bool)
        # ``held`` stays sorted; joining two sorted runs with the stable sort (timsort) is a
        # linear merge, so a round costs O(held + proposals), not a full sort.
        while True:
            free = free[nxt[free] < nch[free]]
            if free.size == 0:
                break
            new = pair_g[off[free] + nxt[free]]
            new.sort()
            nxt[free] += 1
            affected[:] = False
            affected[orders.g_school[new]] = True
            touched = affected[orders.g_school[held]]
            cand = np.concatenate((held[touched], new))
            cand.sort(kind="stable")
            keep = _choose(orders, cand, caps, policy)
            held = np.concatenate((held[~touched], cand[keep]))
            held.sort(kind="stable")
            free = g_unit[cand[~keep]]
        placed_k[g_unit[held]] = orders.g_k[held]
        return placed_k, held
    left = caps.copy()
    pending = np.arange(n_u, dtype=np.int64)
    kept_all = []
    r = 0
    while True:
        pending = pending[nch[pending] > r]
        if pending.size == 0:
            break
        cand = pair_g[off[pending] + r]
        cand.sort()
        keep = _choose(orders, cand, left, policy)
        kept = cand[keep]
        kept_all.append(kept)
        placed_k[g_unit[kept]] = r
        left -= np.bincount(
            orders.g_school[kept], weights=orders.g_size[kept], minlength=n_s
        ).astype(np.int64)
        pending = g_unit[cand[~keep]]
        r += 1
    held = np.concatenate(kept_all) if kept_all else np.zeros(0, dtype=np.int64)
    held.sort()
    return placed_k, held


def _expand(units: _Units, orders: _Orders, unit_seq: np.ndarray) -> list[str]:
    """Applicant ids of the units in ``unit_seq``, each unit's members by id."""
    names = units.member_array()
    if not orders.grouped:
        out: list[str] = names[unit_seq].tolist()
        return out
    size = orders.unit_size[unit_seq]
    total = int(size.sum())
    first = np.repeat(units.member_offsets()[unit_seq] - (np.cumsum(size) - size), size)
    out = names[first + np.arange(total, dtype=np.int64)].tolist()
    return out


def _placements(
    orders: _Orders, held: np.ndarray, n_u: int
) -> tuple[list[tuple[int, int] | None], np.ndarray]:
    """The distinct placements (school, choice index), None for unplaced, and the number of
    each unit's placement in that list.  Codes school * n_k + k (n_k = most choices) with the
    last code for unplaced; marking the used ones (dense code space) keeps this linear."""
    n_k = int(orders.nch.max()) if n_u else 1
    unplaced = orders.n_schools * n_k
    code = np.full(n_u, unplaced, dtype=np.int64)
    code[orders.g_unit[held]] = orders.g_school[held] * n_k + orders.g_k[held]
    if unplaced > 4 * orders.g_unit.size + 1024:  # a sparse code space: sort instead
        codes, number = np.unique(code, return_inverse=True)
    else:
        used = np.zeros(unplaced + 1, dtype=bool)
        used[code] = True
        codes = np.flatnonzero(used)
        number = (np.cumsum(used) - 1)[code]
    placed = [None if c == unplaced else divmod(c, n_k) for c in codes.tolist()]
    return placed, number.ravel()


def _result(
    cols: Columns,
    units: _Units,
    orders: _Orders,
    placed_k: np.ndarray,
    held: np.ndarray,
    sha256: str,
) -> Result:
    sids = units.school_ids
    n_s = len(sids)
    g_unit, g_k, g_school = orders.g_unit, orders.g_k, orders.g_school
    # Placement objects are shared: there are at most (schools x choices) distinct ones.
    placed, inv = _placements(orders, held, len(units.ids))
    new = tuple.__new__  # NamedTuple's own __new__ is a slow Python-level call
    table: list[Placement | None] = [
        None if p is None else new(Placement, (sids[p[0]], p[1] + 1)) for p in placed
    ]
    unit_place = list(map(table.__getitem__, inv.tolist()))
    assignments = dict(
        zip(cols.app_ids, map(unit_place.__getitem__, units.unit_of.tolist()), strict=True)
    )
    adm_names = _expand(units, orders, g_unit[held])
    adm_count = np.bincount(g_school[held], minlength=n_s).tolist()
    pk = placed_k[g_unit]
    wait_mask = (pk < 0) | (pk > g_k)
    wait_units = g_unit[wait_mask]
    wait_names = _expand(units, orders, wait_units)
    if orders.grouped:
        adm_count = np.bincount(g_school[held], weights=orders.g_size[held], minlength=n_s)
        adm_count = adm_count.astype(np.int64).tolist()
        wait_count = (
            np.bincount(g_school[wait_mask], weights=orders.g_size[wait_mask], minlength=n_s)
            .astype(np.int64)
            .tolist()
        )
    else:
        wait_count = np.bincount(g_school[wait_mask], minlength=n_s).tolist()
    schools: dict[str, SchoolOutcome] = {}
    ai = wi = 0
    for sid, na, nw in zip(sids, adm_count, wait_count, strict=True):
        schools[sid] = SchoolOutcome(
            tuple(adm_names[ai : ai + na]), tuple(wait_names[wi : wi + nw])
        )
        ai += na
        wi += nw
    tickets = None
    if cols.tie_breaking == "single":
        tickets = dict(zip(units.ids, map(bytes.hex, orders.single_tickets), strict=True))
    return Result(
        instance_sha256=sha256,
        assignments=assignments,
        schools=schools,
        tickets=tickets,
        bmp_ids=cols.bmp_ids,
    )


__all__ = ["Placement", "Result", "SchoolOutcome", "draw", "parse_instance", "result_bytes", "run"]
