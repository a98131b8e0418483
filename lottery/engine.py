"""The draw: paiwei-lottery/1 (docs/lottery-spec.md is normative; this is its implementation).

Theory of operation
-------------------
1. *Units.*  Applicants sharing a ``group`` form one unit (id = group id), others are units of
   their own (id = applicant id).  A unit's priority at a school is its members' maximum.
2. *Tickets.*  ``lottery.ticket.ticket`` per unit (``single``) or per (unit, school) pair
   (``multiple``).
3. *School orders.*  Every school ranks the units that chose it by (priority desc, ticket asc,
   unit id asc).  The orders are computed once, with one numpy ``lexsort`` over all (unit, choice)
   pairs keyed on the first 16 ticket bytes; if two adjacent keys tie there (a 128-bit collision,
   never seen in practice) the exact pure-Python sort is used instead, so the result is always
   the spec's.  From then on a unit at a school is represented by its position in that order.
4. *Mechanism.*  Student-proposing deferred acceptance in synchronous rounds, or preference
   rounds (Boston), both calling the same ``choose`` rule (all-or-none / admit-together).
5. *Result.*  Assignments, per-school admitted lists and waitlists, tickets (``single`` only).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lottery._gc import paused_gc
from lottery.canonical import canonical_json_trusted
from lottery.model import Instance, parse_instance

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
            "assignments": {
                a: None if p is None else {"school": p[0], "choice": p[1]}
                for a, p in self.assignments.items()
            },
            "schools": {
                s: {"admitted": list(o.admitted), "waitlist": list(o.waitlist)}
                for s, o in self.schools.items()
            },
        }
        if self.tickets is not None:
            obj["tickets"] = dict(self.tickets)
        return obj


def result_bytes(result: Result) -> bytes:
    """The exact bytes of result.json: RFC 8785 canonical form followed by one b"\\n"."""
    return canonical_json_trusted(result.to_json(), bmp_keys=result.bmp_ids) + b"\n"


def run(data: bytes) -> bytes:
    """``result_bytes(draw(parse_instance(data)))`` — what ``python -m lottery run`` writes."""
    with paused_gc():
        return result_bytes(draw(parse_instance(data)))


class _Units:
    """Units of an instance as parallel lists indexed by unit number."""

    def __init__(self, inst: Instance) -> None:
        sidx = {s.id: i for i, s in enumerate(inst.schools)}
        to_idx = sidx.__getitem__
        self.school_ids = [s.id for s in inst.schools]
        self.ids: list[str] = []
        self.members: list[list[str]] = []
        self.choices: list[list[int]] = []
        self.prio: list[list[int]] = []
        self.unit_of: list[int] = []  # unit number of each applicant, in instance order
        ids, members, choices, prio, unit_of = (
            self.ids, self.members, self.choices, self.prio, self.unit_of
        )  # fmt: skip
        groups: dict[str, int] = {}
        no_prio: list[int] = []
        for a in inst.applicants:
            aid, a_choices, a_prio, group = a
            if group is None:
                unit_of.append(len(ids))
                ids.append(aid)
                members.append([aid])
                choices.append(list(map(to_idx, a_choices)))
                prio.append([a.priority_at(c) for c in a_choices] if a_prio else no_prio)
                continue
            u = groups.get(group, -1)
            if u < 0:
                u = groups[group] = len(ids)
                ids.append(group)
                members.append([aid])
                choices.append(list(map(to_idx, a_choices)))
                prio.append([a.priority_at(c) for c in a_choices] if a_prio else no_prio)
            else:
                members[u].append(aid)
                if a_prio or prio[u]:
                    # a member without a listed priority counts as 0 there
                    old = prio[u] or [0] * len(a_choices)
                    prio[u] = [
                        max(x, a.priority_at(c)) for x, c in zip(old, a_choices, strict=True)
                    ]
            unit_of.append(u)
        for m in members:
            if len(m) > 1:
                m.sort()
        self.size = [len(m) for m in self.members]


def _tickets(
    seed: bytes, tie_breaking: str, units: _Units
) -> tuple[list[bytes], list[list[bytes]] | None]:
    """Per-unit tickets (single) or per-(unit, choice) tickets (multiple); inlines
    ``lottery.ticket.ticket`` (same bytes) because this loop is the hot path."""
    digest = hmac.digest
    if tie_breaking == "single":
        return [digest(seed, u.encode() + b"\x01", "sha256") for u in units.ids], None
    sch = [s.encode() + b"\x00" for s in units.school_ids]
    per = [
        [digest(seed, sch[s] + ub, "sha256") for s in ch]
        for ub, ch in zip((u.encode() + b"\x01" for u in units.ids), units.choices, strict=True)
    ]
    return [], per


class _Orders:
    """Each school's order of the units that chose it, and positions in it."""

    def __init__(self, seed: bytes, tie_breaking: str, units: _Units) -> None:
        single, multi = _tickets(seed, tie_breaking, units)
        self.single_tickets = single
        n_s = len(units.school_ids)
        nch = [len(c) for c in units.choices]
        n_pairs = sum(nch)
        p_school = np.fromiter(
            (s for ch in units.choices for s in ch), dtype=np.int64, count=n_pairs
        )
        p_unit = np.repeat(np.arange(len(units.ids), dtype=np.int64), nch)
        p_neg_prio = np.zeros(n_pairs, dtype=np.int64)
        if any(units.prio):
            p_neg_prio = -np.fromiter(
                (x for pr, n in zip(units.prio, nch, strict=True) for x in (pr or [0] * n)),
                dtype=np.int64,
                count=n_pairs,
            )
        if multi is None:
            tk = np.frombuffer(b"".join(single), dtype=">u8").reshape(-1, 4)
            t0 = tk[:, 0][p_unit]
            t1 = tk[:, 1][p_unit]
        else:
            tk = np.frombuffer(b"".join(t for row in multi for t in row), dtype=">u8")
            tk = tk.reshape(-1, 4)
            t0, t1 = tk[:, 0], tk[:, 1]
        order = np.lexsort((t1, t0, p_neg_prio, p_school))
        so = p_school[order]
        tied = (
            (so[1:] == so[:-1])
            & (p_neg_prio[order][1:] == p_neg_prio[order][:-1])
            & (t0[order][1:] == t0[order][:-1])
            & (t1[order][1:] == t1[order][:-1])
        )
        if tied.any():
            order = self._exact_order(units, single, multi, p_neg_prio.tolist())
            so = p_school[order]
        counts = np.bincount(so, minlength=n_s)
        starts = np.zeros(n_s + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        pos = np.empty(n_pairs, dtype=np.int64)
        pos[order] = np.arange(n_pairs, dtype=np.int64) - starts[so]
        unit_sorted = p_unit[order].tolist()
        k_of_pair = np.arange(n_pairs, dtype=np.int64) - np.repeat(
            np.cumsum(nch) - np.asarray(nch, dtype=np.int64), nch
        )
        k_sorted = k_of_pair[order].tolist()
        st = starts.tolist()
        self.order: list[list[int]] = [unit_sorted[st[s] : st[s + 1]] for s in range(n_s)]
        self.order_k: list[list[int]] = [k_sorted[st[s] : st[s + 1]] for s in range(n_s)]
        flat_pos = pos.tolist()
        self.pos: list[list[int]] = []
        i = 0
        for n in nch:
            self.pos.append(flat_pos[i : i + n])
            i += n

    @staticmethod
    def _exact_order(
        units: _Units,
        single: list[bytes],
        multi: list[list[bytes]] | None,
        neg_prio: list[int],
    ) -> np.ndarray:
        keys = []
        i = 0
        for u, ch in enumerate(units.choices):
            for k, s in enumerate(ch):
                t = single[u] if multi is None else multi[u][k]
                keys.append((s, neg_prio[i], t, units.ids[u], i))
                i += 1
        keys.sort()
        return np.fromiter((k[4] for k in keys), dtype=np.int64, count=len(keys))


_Choose = Callable[[list[int], int], tuple[list[int], list[int], int]]


def _chooser(policy: str, sizes: list[int], grouped: bool) -> _Choose:
    """The choice rule at one school (spec "Choosing"): walk the candidates' positions in
    ascending order with ``seats`` left; return (kept, rejected, seats used)."""
    if not grouped:

        def plain(cand: list[int], seats: int) -> tuple[list[int], list[int], int]:
            n = max(seats, 0)
            keep = cand[:n]
            return keep, cand[n:], len(keep)

        return plain
    if policy == "all-or-none":

        def all_or_none(cand: list[int], seats: int) -> tuple[list[int], list[int], int]:
            keep: list[int] = []
            rej: list[int] = []
            used = 0
            for p in cand:
                z = sizes[p]
                if z <= seats:
                    keep.append(p)
                    seats -= z
                    used += z
                else:
                    rej.append(p)
            return keep, rej, used

        return all_or_none

    def admit_together(cand: list[int], seats: int) -> tuple[list[int], list[int], int]:
        used = 0
        for i, p in enumerate(cand):
            if seats <= 0:
                return cand[:i], cand[i:], used
            seats -= sizes[p]
            used += sizes[p]
        return cand, [], used

    return admit_together


def draw(instance: Instance) -> Result:
    """Run the lottery on a validated instance (docs/lottery-spec.md, paiwei-lottery/1)."""
    with paused_gc():
        units = _Units(instance)
        orders, placed_k, admitted = _assign(instance, units, instance.seed)
        return _result(instance, units, orders, placed_k, admitted)


def _assign(
    instance: Instance, units: _Units, seed: bytes
) -> tuple[_Orders, list[int], list[list[int]]]:
    """Tickets, school orders and the mechanism for ``seed``: returns the orders, each unit's
    placed choice index (-1 = unplaced) and each school's admitted positions (ascending)."""
    orders = _Orders(seed, instance.tie_breaking, units)
    placed_k, admitted = _mechanism(instance, units, orders)
    return orders, placed_k, admitted


def _mechanism(
    instance: Instance, units: _Units, orders: _Orders
) -> tuple[list[int], list[list[int]]]:
    """Run the instance's mechanism on precomputed school orders (spec section 6)."""
    n_s = len(units.school_ids)
    n_u = len(units.ids)
    choose: list[_Choose] = []
    for s in range(n_s):
        sizes = [units.size[u] for u in orders.order[s]]
        choose.append(_chooser(instance.group_policy, sizes, any(z > 1 for z in sizes)))
    caps = [s.capacity for s in instance.schools]
    upos = orders.pos
    uch = units.choices
    placed_k = [-1] * n_u  # index into the unit's choices, -1 = unplaced
    admitted: list[list[int]] = [[] for _ in range(n_s)]  # positions

    if instance.mechanism == "deferred-acceptance":
        nxt = [0] * n_u
        free = list(range(n_u))
        while True:
            props: dict[int, list[int]] = {}
            for u in free:
                k = nxt[u]
                if k < len(uch[u]):
                    nxt[u] = k + 1
                    s = uch[u][k]
                    lst = props.get(s)
                    if lst is None:
                        props[s] = [upos[u][k]]
                    else:
                        lst.append(upos[u][k])
            if not props:
                break
            free = []
            for s, new in props.items():
                cand = admitted[s] + new
                cand.sort()
                keep, rej, _ = choose[s](cand, caps[s])
                admitted[s] = keep
                if rej:
                    o = orders.order[s]
                    free.extend([o[p] for p in rej])
        for s in range(n_s):
            o = orders.order[s]
            ok = orders.order_k[s]
            for p in admitted[s]:
                placed_k[o[p]] = ok[p]
    else:
        seats = list(caps)
        pending = list(range(n_u))
        r = 0
        while pending:
            props = {}
            for u in pending:
                if r < len(uch[u]):
                    props.setdefault(uch[u][r], []).append(upos[u][r])
            for s, new in props.items():
                new.sort()
                keep, _, used = choose[s](new, seats[s])
                seats[s] -= used
                admitted[s].extend(keep)
                o = orders.order[s]
                for p in keep:
                    placed_k[o[p]] = r
            r += 1
            pending = [u for u in pending if placed_k[u] < 0 and r < len(uch[u])]
        for lst in admitted:
            lst.sort()
    return placed_k, admitted


def _result(
    inst: Instance,
    units: _Units,
    orders: _Orders,
    placed_k: list[int],
    admitted: list[list[int]],
) -> Result:
    sids = units.school_ids
    members = units.members
    new = tuple.__new__  # NamedTuple's own __new__ is a slow Python-level call
    unit_place: list[Placement | None] = [
        None if k < 0 else new(Placement, (sids[ch[k]], k + 1))
        for k, ch in zip(placed_k, units.choices, strict=True)
    ]
    assignments = dict(
        zip(
            (a.id for a in inst.applicants), map(unit_place.__getitem__, units.unit_of), strict=True
        )
    )
    schools: dict[str, SchoolOutcome] = {}
    for s, sid in enumerate(sids):
        o = orders.order[s]
        ok = orders.order_k[s]
        adm = [m for p in admitted[s] for m in members[o[p]]]
        wait = [
            m
            for u, k in zip(o, ok, strict=True)
            if placed_k[u] < 0 or placed_k[u] > k
            for m in members[u]
        ]
        schools[sid] = SchoolOutcome(tuple(adm), tuple(wait))
    tickets = None
    if inst.tie_breaking == "single":
        tickets = {u: t.hex() for u, t in zip(units.ids, orders.single_tickets, strict=True)}
    return Result(
        instance_sha256=inst.sha256().hex(),
        assignments=assignments,
        schools=schools,
        tickets=tickets,
        bmp_ids=inst.bmp_ids,
    )


__all__ = ["Placement", "Result", "SchoolOutcome", "draw", "parse_instance", "result_bytes", "run"]
