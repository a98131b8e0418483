"""The draw: paiwei-lottery/1 (docs/lottery-spec.md is normative; this is its implementation).

Theory of operation
-------------------
0. *Input.*  The engine reads ``lottery.columns.Columns`` (numpy arrays of school indices,
   priorities, groups).  ``run`` gets them straight from the bytes via ``lottery._fast`` (msgspec)
   when that proves the instance valid, and otherwise via the exact validator and ``Instance``.
1. *Units.*  Applicants sharing a ``group`` form one unit (id = group id), others are units of
   their own (id = applicant id).  A unit's priority at a school is its members' maximum (kept
   sparse: most pairs have none).
2. *Tickets.*  ``lottery.ticket.ticket`` per unit (``single``) or per (unit, school) pair
   (``multiple``), in bulk with the HMAC key pads hashed once (``hmac_sha256_many``).
3. *School orders.*  Every school ranks the units that chose it by (priority desc, ticket asc,
   unit id asc).  The (unit, choice) pairs are laid out in ticket order (units sorted on their
   tickets' first 8 bytes; for ``multiple`` the pairs' own tickets), then sorted stably on
   (school, priority level) 16 bits at a time (numpy's stable sort of 16-bit keys is a counting
   sort): a least-significant-digit radix sort.  If two tickets agree in those bytes (never
   seen in practice) the exact pure-Python sort is used instead, so the result is always the
   spec's.  A pair is then its global position ``g`` in that sort.
4. *Mechanism.*  The spec's synchronous rounds, each round choosing at every school at once
   with numpy: candidates sorted by ``g``, ``before`` = total size ahead of a unit at its
   school; admit-together keeps ``before < seats``, all-or-none keeps ``before + size <=
   seats`` and walks a school unit by unit only where a group is skipped with seats left.
   A rejected candidate proposes next at ``next_g`` of its position, so a round costs
   O(candidates).  DA keeps what schools hold sorted, so each round merges sorted runs instead
   of sorting.
5. *Result.*  Assignments, per-school admitted lists and waitlists, tickets (``single`` only).
   ``run`` writes its bytes straight from these arrays with ``lottery._write`` (numpy byte
   matrices, no per-applicant objects) when every id is plain: no JSON escape, nothing beyond
   the BMP, lengths even enough to pad; otherwise ``_result`` builds a ``Result`` and
   ``result_bytes`` serialises it (the generic path, also ``draw``'s).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from lottery import _fast
from lottery._gc import paused_gc
from lottery._write import placement_codes, result_chunks
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
    # reuses that memory (neither writer, nor ``_result`` on the fallback, reads these).
    units.flat = units.neg_prio = orders.pair_g = orders.next_g = np.zeros(0, dtype=np.int64)
    chunks = result_chunks(cols, units, orders, placed_k, held, sha)
    if chunks is None:
        return [result_bytes(_result(cols, units, orders, placed_k, held, sha))]
    return chunks


class _Units:
    """Units of an instance as numpy columns indexed by unit number (units numbered in order of
    their first member in the instance).

    ``flat`` holds each unit's choices (school indices) unit after unit, ``off[u]`` where unit
    ``u``'s start.  Priorities are sparse: ``prio_at`` lists the (unit, choice) pairs (indices
    into ``flat``) where the unit has a listed priority and ``prio_of`` the unit's priority
    there; every other pair has priority 0.  ``neg_prio`` is the same as one dense column (the
    negated priority of every pair), filled only when the exact fallback order needs it.
    ``names`` holds every unit's member ids unit after unit, each unit's by id (an object
    array), and ``name_off[u]`` the index there of unit ``u``'s first member.
    """

    def __init__(self, cols: Columns) -> None:
        self.school_ids = cols.school_ids
        app_ids = cols.app_ids
        n_a = len(app_ids)
        app_nch = cols.app_nch
        app_off = np.zeros(n_a + 1, dtype=np.int64)
        np.cumsum(app_nch, out=app_off[1:])
        # Every listed priority at a school the applicant chose: its (applicant, choice) pair.
        at = np.zeros(0, dtype=np.int64)
        value = np.zeros(0, dtype=np.int64)
        if cols.prio_app.size:
            # A join on (applicant, school), linear (not entries x choices per applicant): the
            # pairs of the applicants listing a priority, keyed and sorted, searched for each
            # entry's key.  An applicant's choices, and its priority keys, are distinct.
            n_s = len(cols.school_ids)
            apps = np.unique(cols.prio_app)
            rows = _row_positions(app_off, apps)
            pair_key = np.repeat(apps, app_nch[apps]) * n_s + cols.app_flat[rows]
            by_key = np.argsort(pair_key)
            pair_key = pair_key[by_key]
            want = cols.prio_app * n_s + cols.prio_school
            pos = np.minimum(np.searchsorted(pair_key, want), pair_key.size - 1)
            hit = pair_key[pos] == want  # else a school the applicant did not choose
            at = rows[by_key[pos[hit]]]
            value = cols.prio_value[hit]
        if not cols.groups:
            self.ids = app_ids
            self.unit_of = np.arange(n_a, dtype=np.int64)
            self.nch = app_nch
            self.flat = cols.app_flat
            self.size = np.ones(n_a, dtype=np.int64)
            self.names = np.fromiter(app_ids, dtype=object, count=n_a)
            self.prio_at, self.prio_of = at, value
        else:
            self._grouped(cols, app_off, at, value)
        self.off = np.zeros(len(self.ids) + 1, dtype=np.int64)
        np.cumsum(self.nch, out=self.off[1:])
        self.name_off = np.zeros(len(self.ids), dtype=np.int64)
        np.cumsum(self.size[:-1], out=self.name_off[1:])
        self.neg_prio = np.zeros(0, dtype=np.int64)

    def _grouped(
        self, cols: Columns, app_off: np.ndarray, at: np.ndarray, value: np.ndarray
    ) -> None:
        app_ids = cols.app_ids
        n_a = len(app_ids)
        first_of: dict[str, int] = {}  # group id -> its first member
        lead_of = [first_of.setdefault(g, i) for i, g in cols.groups]
        lead = np.arange(n_a, dtype=np.int64)  # each applicant's unit's first member
        lead[[i for i, _ in cols.groups]] = lead_of
        is_first = lead == np.arange(n_a, dtype=np.int64)
        unit_num = np.cumsum(is_first) - 1
        self.unit_of = unit_of = unit_num[lead]
        first = np.flatnonzero(is_first)
        n_u = first.size
        # (Each pass over 1M id objects costs a cache miss per id: make as few as possible.)
        ids = list(itertools.compress(app_ids, is_first.tolist()))
        for g, u in zip(first_of, unit_num[list(first_of.values())].tolist(), strict=True):
            ids[u] = g
        self.ids = ids
        self.size = np.bincount(unit_of, minlength=n_u)
        # Members unit after unit (usually already so), each unit's members by id: rank the
        # grouped members' ids (distinct, so no ties), then order each unit's members by rank.
        names = np.fromiter(app_ids, dtype=object, count=n_a)
        if bool((unit_of[1:] < unit_of[:-1]).any()):
            names = names[np.argsort(unit_of, kind="stable")]
        name_off = np.zeros(n_u + 1, dtype=np.int64)
        np.cumsum(self.size, out=name_off[1:])
        multi = np.flatnonzero(self.size > 1)
        if multi.size:
            pos = _row_positions(name_off, multi)
            member = names[pos]
            rank = np.empty(pos.size, dtype=np.int64)
            rank[np.argsort(member)] = np.arange(pos.size, dtype=np.int64)
            names[pos] = member[np.lexsort((rank, np.repeat(multi, self.size[multi])))]
        self.names = names
        # A unit's choices are its first member's (validation made them identical).
        self.nch = nch = cols.app_nch[first]
        self.flat = cols.app_flat[np.repeat(is_first, cols.app_nch)]
        # A unit's priority at a school is the highest of its members' (absent = 0): map each
        # listed priority to its unit's pair, take the maximum per pair, and 0 where some
        # member lists none there.
        self.prio_at, self.prio_of = at, value
        if at.size:
            app = np.searchsorted(app_off, at, side="right") - 1
            u_off = np.zeros(n_u + 1, dtype=np.int64)
            np.cumsum(nch, out=u_off[1:])
            unit = unit_of[app]
            upair = u_off[unit] + (at - app_off[app])
            by = np.lexsort((value, upair))
            upair, value, unit = upair[by], value[by], unit[by]
            last = np.ones(upair.size, dtype=bool)  # the last (highest) entry of each pair
            np.not_equal(upair[1:], upair[:-1], out=last[:-1])
            ends = np.flatnonzero(last)
            listed = np.diff(ends, prepend=-1)  # members listing a priority there
            best = value[ends]
            some_absent = listed < self.size[unit[ends]]
            best[some_absent] = np.maximum(best[some_absent], 0)
            self.prio_at, self.prio_of = upair[ends], best

    def dense_neg_prio(self) -> np.ndarray:
        """``neg_prio``, filled from the sparse priorities."""
        if self.neg_prio.size != self.off[-1]:
            self.neg_prio = np.zeros(int(self.off[-1]), dtype=np.int64)
            self.neg_prio[self.prio_at] = -self.prio_of
        return self.neg_prio

    @property
    def choices(self) -> list[list[int]]:
        """Each unit's choices as a list of school indices."""
        flat = self.flat.tolist()
        off = self.off.tolist()
        return [flat[a:b] for a, b in itertools.pairwise(off)]


def _row_positions(off: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions ``off[r] .. off[r + 1] - 1`` of every row ``r`` in ``rows``, row after row."""
    lens = off[rows + 1] - off[rows]
    total = int(lens.sum())
    start = np.repeat(off[rows] - (np.cumsum(lens) - lens), lens)
    start += np.arange(total, dtype=np.int64)
    return start


def _tickets(seed: bytes, tie_breaking: str, units: _Units) -> tuple[bytes, bytes | None]:
    """Per-unit tickets (single) or per-(unit, choice) tickets, unit after unit (multiple):
    ``lottery.ticket.ticket`` of each, computed in bulk (same bytes), 32 bytes each in one
    buffer: ``(single, None)`` or ``(b"", multiple)``."""
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
    return b"", hmac_sha256_many(seed, map(bytes.__add__, pre, post))


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    """int32 when every value below ``n`` fits (half the memory traffic of int64), else int64."""
    return np.int32 if n < 2**31 else np.int64


class _Orders:
    """Every school's order of the units that chose it, as flat numpy arrays.

    A (unit, choice) pair is identified by its *global position* ``g``: pairs sorted by
    (school, priority desc, ticket asc, unit id asc), so school ``s`` owns the positions
    ``starts[s] <= g < starts[s + 1]`` and a smaller ``g`` is served first there.  ``g_unit``,
    ``g_k`` (choice index), ``g_school`` and ``g_size`` describe the pair at each position,
    ``pair_g`` maps a unit-major pair index (into ``units.flat``) to its position and
    ``next_g`` a position to that of the same unit's next choice (-1 after its last).
    """

    def __init__(self, tickets: tuple[bytes, bytes | None], units: _Units) -> None:
        single, multi = tickets
        self.single_tickets = single  # 32 bytes per unit (single tie-breaking), else empty
        n_s = len(units.school_ids)
        n_u = len(units.ids)
        nch, off = units.nch, units.off
        n_pairs = int(off[-1])
        ix = _index_dtype(n_pairs)
        fast = self._fast_order(single, multi, units, n_s)
        if fast is None:
            neg_prio = units.dense_neg_prio().tolist()
            order = self._exact_order(units, single, multi, neg_prio)
            g_unit = np.repeat(np.arange(n_u, dtype=np.intp), nch)[order]
            fast = order, g_unit, (order - off[g_unit]).astype(ix)
        order, self.g_unit, self.g_k = fast
        del fast
        self.n_schools = n_s
        self.off = off
        self.nch = nch
        sizes = units.size
        self.unit_size = sizes
        self.grouped = bool(n_u and sizes.max() > 1)
        self.g_size = sizes.astype(ix)[self.g_unit]
        # Sorted by school first: each school's positions are one run of its number of pairs.
        counts = np.bincount(units.flat, minlength=n_s)
        self.g_school = np.repeat(np.arange(n_s, dtype=ix), counts)
        self.starts = np.zeros(n_s + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])
        self.pair_g = pair_g = np.empty(n_pairs, dtype=ix)  # unit-major pair -> position
        pair_g[order] = np.arange(n_pairs, dtype=ix)
        # The position of the same unit's next choice (-1 after its last).
        after = np.empty(n_pairs, dtype=ix)
        after[:-1] = pair_g[1:]
        after[off[1:][nch > 0] - 1] = -1
        self.next_g = after[order]

    @staticmethod
    def _fast_order(
        single: bytes, multi: bytes | None, units: _Units, n_s: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Sort the pairs by (school, -priority, ticket) using the first 8 ticket bytes: for
        each position the pair's unit-major index, unit and choice index; None if two tickets
        agree there (then the exact sort decides).

        A least-significant-digit radix sort: the pairs are laid out in ticket order, then
        sorted stably on (school, priority level) 16 bits at a time (numpy's stable sort of
        16-bit keys is a counting sort), so ticket order survives within equal keys.
        """
        nch, off = units.nch, units.off
        n_u = len(nch)
        n_pairs = int(off[-1])
        if n_pairs == 0:
            empty = np.zeros(0, dtype=np.intp)
            return empty, empty, empty
        tickets = single if multi is None else multi
        t0 = np.frombuffer(tickets, dtype=">u8")[::4].astype(np.uint64)
        by_ticket = np.argsort(t0)  # equal first bytes are caught below, so any sort will do
        st = t0[by_ticket]
        if bool((st[1:] == st[:-1]).any()):
            return None
        del t0, st
        # Each pair as one integer unit << b_k | choice index.
        b_k = int(nch.max() - 1).bit_length()
        ix = _index_dtype(max(n_pairs, n_u << b_k))
        step = np.arange(n_pairs, dtype=ix)
        if multi is None:
            # ticket order = units by ticket, each unit's pairs in choice order
            lens = nch[by_ticket]
            before = np.cumsum(lens)
            before -= lens
            rank_pair = np.repeat((off[:-1][by_ticket] - before).astype(ix), lens)
            rank_pair += step
            code = np.repeat(((by_ticket << b_k) - before).astype(ix), lens)
            code += step
            del lens, before
        else:
            rank_pair = by_ticket.astype(ix)  # the tickets are the pairs' own
            code = np.repeat(((np.arange(n_u) << b_k) - off[:-1]).astype(ix), nch)
            code += step
            code = code[rank_pair]
        del by_ticket
        # The sort key: school, then priority level (0 = highest priority listed anywhere).
        levels = np.unique(np.append(units.prio_of, 0))  # ascending
        n_lv = len(levels)
        top = n_lv - 1
        bits = (n_s * n_lv - 1).bit_length()
        # uint16 keys when they fit; n_lv itself must fit too (``key *= n_lv`` on one school)
        kt = np.uint16 if bits <= 16 and n_lv <= 0xFFFF else np.int64
        key: np.ndarray = units.flat.astype(kt)
        key *= n_lv
        key += top - int(np.searchsorted(levels, 0))
        if units.prio_at.size:
            at = units.prio_at
            lv = top - np.searchsorted(levels, units.prio_of)
            key[at] = units.flat[at] * n_lv + lv
        key = key[rank_pair]
        perm = np.argsort(
            key if kt is np.uint16 else (key & 0xFFFF).astype(np.uint16), kind="stable"
        )
        for shift in range(16, bits, 16):
            digit = (key >> shift & 0xFFFF).astype(np.uint16)[perm]
            perm = perm[np.argsort(digit, kind="stable")]
        del key
        # Into the dead 5M-pair buffers: fewer fresh pages to fault in.  Arrays that index
        # others are intp (numpy casts any other index dtype to it, a pass per use).
        sorted_code = np.take(code, perm, out=rank_pair)
        del perm, code
        g_k = np.bitwise_and(sorted_code, (1 << b_k) - 1, out=step)
        g_unit = np.right_shift(sorted_code, b_k, dtype=np.intp)
        order = off[g_unit]
        order += g_k
        return order, g_unit, g_k

    @staticmethod
    def _exact_order(
        units: _Units,
        single: bytes,
        multi: bytes | None,
        neg_prio: list[int],
    ) -> np.ndarray:
        keys = []
        i = 0
        for u, ch in enumerate(units.choices):
            for s in ch:
                t = single[32 * u : 32 * u + 32] if multi is None else multi[32 * i : 32 * i + 32]
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
    a multi-member unit is skipped with seats left is walked exactly, from that unit on.
    """
    n = cand.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    sch = orders.g_school[cand]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(sch[1:], sch[:-1], out=first[1:])
    seg_start = np.flatnonzero(first)
    seg_len = np.diff(seg_start, append=n)
    have = seats[sch[seg_start]]
    del sch, first
    if not orders.grouped:
        # the first ``have`` candidates of each school
        result: np.ndarray = np.arange(n, dtype=seg_start.dtype) < np.repeat(
            seg_start + have, seg_len
        )
        return result
    sz = orders.g_size[cand]
    cs = np.cumsum(sz)  # before + size, plus what earlier schools' candidates had
    # before + size <= seats  <=>  cs <= lim (the school's seats past its first candidate)
    lim = np.repeat(cs[seg_start] - sz[seg_start] + have, seg_len)
    if policy == "admit-together":
        cs -= sz
        result = cs < lim
        return result
    keep: np.ndarray = cs <= lim
    cs -= sz
    bad = np.flatnonzero(~keep & (cs < lim))  # skipped with seats left
    if bad.size:
        # every unit ahead of a school's first such unit fits; walk the rest of that school
        seg = np.searchsorted(seg_start, bad, side="right") - 1
        seg, at = np.unique(seg, return_index=True)
        for j, end, left in zip(
            bad[at].tolist(),
            (seg_start[seg] + seg_len[seg]).tolist(),
            (lim[bad[at]] - cs[bad[at]]).tolist(),
            strict=True,
        ):
            while left > 0 and j < end:
                for z in sz[j : min(end, j + 64)].tolist():
                    if z <= left:
                        keep[j] = True
                        left -= z
                    j += 1
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


def _ascending(pos: np.ndarray, n: int) -> np.ndarray:
    """``np.sort(pos)`` for distinct positions below ``n``; when they are many, one scan of a
    mask of all ``n`` positions is cheaper than sorting them."""
    if pos.size * 8 < n:
        out = pos.astype(np.intp)  # (an intp index array is used as is, any other is cast)
        out.sort()
        return out
    mark = np.zeros(n, dtype=bool)
    mark[pos] = True
    return np.flatnonzero(mark)


def _mechanism(cols: Columns, orders: _Orders) -> tuple[np.ndarray, np.ndarray]:
    """Run the instance's mechanism on the school orders (spec section 6), all schools of a
    round at once.  A rejected candidate's next proposal is ``next_g`` of its position, so a
    round costs O(candidates), not O(units)."""
    n_s = orders.n_schools
    n_u = len(orders.nch)
    caps = cols.capacities
    policy = cols.group_policy
    g_unit, g_school, next_g = orders.g_unit, orders.g_school, orders.next_g
    placed_k = np.full(n_u, -1, dtype=np.int64)
    new = np.flatnonzero(orders.g_k == 0)  # every unit's first choice
    if cols.mechanism == "deferred-acceptance":
        held = new[:0]
        affected = np.zeros(n_s, dtype=bool)
        # ``held`` stays sorted; joining two sorted runs with the stable sort (timsort) is a
        # linear merge, so a round costs O(held at the schools proposed to + proposals).
        while new.size:
            if held.size:
                affected[:] = False
                affected[g_school[new]] = True
                touched = affected[g_school[held]]
                cand = np.concatenate((held[touched], new))
                cand.sort(kind="stable")
                held = held[~touched]
            else:
                cand = new
            keep = _choose(orders, cand, caps, policy)
            held = np.concatenate((held, cand[keep]))
            held.sort(kind="stable")
            new = next_g[cand[~keep]]
            new = _ascending(new[new >= 0], g_unit.size)
        placed_k[g_unit[held]] = orders.g_k[held]
        return placed_k, held
    left = caps.copy()
    kept_all = []
    while new.size:
        keep = _choose(orders, new, left, policy)
        kept = new[keep]
        kept_all.append(kept)
        left -= np.bincount(g_school[kept], weights=orders.g_size[kept], minlength=n_s).astype(
            np.int64
        )
        new = next_g[new[~keep]]
        new = _ascending(new[new >= 0], g_unit.size)
    held = np.concatenate(kept_all) if kept_all else new
    held.sort()
    placed_k[g_unit[held]] = orders.g_k[held]
    return placed_k, held


def _expand(units: _Units, orders: _Orders, unit_seq: np.ndarray) -> list[str]:
    """Applicant ids of the units in ``unit_seq``, each unit's members by id."""
    names = units.names
    if not orders.grouped:
        out: list[str] = names[unit_seq].tolist()
        return out
    size = orders.unit_size[unit_seq]
    total = int(size.sum())
    first = np.repeat(units.name_off[unit_seq] - (np.cumsum(size) - size), size)
    out = names[first + np.arange(total, dtype=np.int64)].tolist()
    return out


def _placements(
    orders: _Orders, held: np.ndarray, n_u: int
) -> tuple[list[tuple[int, int] | None], np.ndarray]:
    """The distinct placements (school, choice index), None for unplaced, and the number of
    each unit's placement in that list (``_write.placement_codes``)."""
    codes, number, n_k = placement_codes(orders, held, n_u)
    unplaced = orders.n_schools * n_k
    placed = [None if c == unplaced else divmod(c, n_k) for c in codes.tolist()]
    return placed, number


def _slices(width: int, n: int) -> Iterator[slice]:
    """The ``n`` consecutive slices of ``width`` items from the start."""
    return map(slice, range(0, width * n, width), range(width, width * n + 1, width))


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
        hexes = orders.single_tickets.hex()
        tickets = dict(
            zip(units.ids, map(hexes.__getitem__, _slices(64, len(units.ids))), strict=True)
        )
    return Result(
        instance_sha256=sha256,
        assignments=assignments,
        schools=schools,
        tickets=tickets,
        bmp_ids=cols.bmp_ids,
    )


__all__ = ["Placement", "Result", "SchoolOutcome", "draw", "parse_instance", "result_bytes", "run"]
