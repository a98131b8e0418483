"""Pure publication tables: masking, lottery numbers, cutoffs and explanations (no I/O, no DB).

Theory of operation (docs/publication.md is the prose version).

Everything here is computed from a draw's exact ``instance.json`` and ``result.json`` bytes
(paiwei-instance/1, paiwei-result/1; docs/lottery-spec.md), so anyone holding the bundle can
recompute the published tables.

* **Units** (spec §2): applicants sharing a ``group`` are one unit (id = the group id), others
  are units of their own. A unit's priority at a school is its members' maximum.
* **Tickets** (spec §3): ``single`` -- the unit's ticket from ``result.json``'s ``tickets``;
  ``multiple`` -- recomputed as ``lottery.ticket(seed, unit, school)``.
* **Lottery number at school s**: the 1-based rank of the unit's ticket among the tickets of
  every unit that listed s (ascending, ties by unit id -- spec §4's own tie-break). It is the
  familiar "random number" (随机号) of a per-school draw: the school's order (spec §4) is
  (priority band descending, lottery number ascending).
* **Cutoff at s**: the order key of the last admitted unit, *if the school filled up*
  (otherwise no one was turned away and there is no cutoff). Deferred acceptance serves the
  school's order, so the key is (band, lottery number). Preference rounds (志愿优先) first serve
  everyone who ranked s first, then second ..., so the key is (choice rank, band, number) and the
  cutoff also names the round in which the seats ran out.
* **Explanation** for a unit that listed s: admitted at s; admitted at a choice it ranked
  higher; after the cutoff (its key is later than the cutoff's); or, with an earlier key, its
  bundle of multiples did not fit the seats left (``all-or-none`` skips it, spec §5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lottery.ticket import ticket as lottery_ticket


class TableError(ValueError):
    """Instance/result bytes that do not belong together or are not paiwei formats."""


def mask_name(name: str) -> str:
    """Mask a person's name for public lists: keep the first and the last character, replace
    every other character by ``*`` (张小明 -> 张*明, 欧阳娜娜 -> 欧**娜); a two-character name keeps
    only its first (李明 -> 李*); one character or an empty name becomes ``*``. Whitespace at the
    ends is ignored."""
    chars = list(name.strip())
    if len(chars) <= 1:
        return "*"
    if len(chars) == 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


@dataclass(frozen=True, slots=True)
class Row:
    """One applicant in a published list (no personal data beyond the masked name)."""

    application: str
    unit: str
    band: int
    lottery_number: int
    choice: int  # rank of this school among the unit's choices


@dataclass(frozen=True, slots=True)
class Cutoff:
    """Order key of the last unit admitted at a school that filled up."""

    band: int
    lottery_number: int
    choice: int | None  # preference rounds: the round (choice rank) in which seats ran out


@dataclass(frozen=True, slots=True)
class SchoolTable:
    """One lottery school (a private pool, a reserved category or a public school) of a draw."""

    school: str
    capacity: int
    applicants: int  # applicants (not units) that listed it
    admitted: tuple[Row, ...]  # in the result's order
    waitlist: tuple[Row, ...]  # in the result's order = the order vacancies are offered
    cutoff: Cutoff | None


@dataclass(frozen=True, slots=True)
class Standing:
    """An applicant's position at one school it listed."""

    school: str
    choice: int
    band: int
    lottery_number: int
    outcome: str  # admitted | admitted-higher-choice | waitlisted | not-admitted
    reason: str  # one of REASONS
    waitlist_position: int | None


REASONS = {
    "admitted": "admitted here",
    "higher-choice": "admitted at a school ranked higher",
    "after-cutoff": "after the cutoff (a lower band, or the same band and a larger lottery number)",
    "later-round": "the seats were taken by applicants who ranked this school higher",
    "bundle-did-not-fit": "the bundle of multiples did not fit the seats left",
    "not-reached": "not admitted",
}


@dataclass(frozen=True, slots=True)
class DrawTables:
    draw: str
    mechanism: str
    tie_breaking: str
    group_policy: str
    schools: Mapping[str, SchoolTable]
    standings: Mapping[str, tuple[Standing, ...]]  # applicant id -> one per listed school
    placements: Mapping[str, str | None]  # applicant id -> school id or None
    tickets: Mapping[str, str]  # unit id -> hex ticket (single: the one ticket)
    units: Mapping[str, str]  # applicant id -> unit id
    positions: Mapping[str, int]  # unit id -> 0-based position of its first member in the roster


def _load(data: bytes, fmt: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise TableError(f"{what}: not JSON ({exc})") from None
    if not isinstance(value, dict) or value.get("format") != fmt:
        raise TableError(f"{what}: format must be {fmt!r}")
    return value


def draw_tables(draw_id: str, instance: bytes, result: bytes) -> DrawTables:
    """All per-school tables and per-applicant standings of one draw (module docstring)."""
    inst = _load(instance, "paiwei-instance/1", "instance")
    res = _load(result, "paiwei-result/1", "result")
    try:
        seed = bytes.fromhex(inst["seed"])
        mechanism, tie, policy = inst["mechanism"], inst["tie_breaking"], inst["group_policy"]
        schools = {s["id"]: int(s["capacity"]) for s in inst["schools"]}
        applicants = inst["applicants"]
        assignments = res["assignments"]
        res_schools = res["schools"]
    except (KeyError, TypeError, ValueError) as exc:
        raise TableError(f"instance/result: missing or malformed member ({exc})") from None
    unit_of: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    choices: dict[str, list[str]] = {}
    prio: dict[str, dict[str, int]] = {}
    positions: dict[str, int] = {}
    for pos, a in enumerate(applicants):
        u = a.get("group") or a["id"]
        unit_of[a["id"]] = u
        if u not in members:
            members[u] = []
            choices[u] = list(a["choices"])
            prio[u] = {}
            positions[u] = pos
        members[u].append(a["id"])
        for s, p in (a.get("priority") or {}).items():
            prio[u][s] = max(prio[u].get(s, 0), int(p))
    if set(assignments) != set(unit_of):
        raise TableError("result: its applicants are not the instance's")
    # tickets per (unit, school)
    if tie == "single":
        tickets = dict(res.get("tickets") or {})
        if set(tickets) != set(members):
            raise TableError("result: tickets do not cover the instance's units")
        tk = {(u, s): tickets[u] for u in members for s in choices[u]}
    else:
        tk = {(u, s): lottery_ticket(seed, u, s).hex() for u in members for s in choices[u]}
        tickets = {}
    listed: dict[str, list[str]] = {s: [] for s in schools}
    for u in members:
        for s in choices[u]:
            listed[s].append(u)
    number: dict[tuple[str, str], int] = {}
    for s, us in listed.items():
        for i, u in enumerate(sorted(us, key=lambda u: (tk[(u, s)], u)), 1):
            number[(u, s)] = i

    placed_at: dict[str, str | None] = {}
    admitted_units: dict[str, list[str]] = {s: [] for s in schools}
    for u, ms in members.items():
        p = assignments[ms[0]]
        placed_at[u] = None if p is None else str(p["school"])
        if p is not None:
            admitted_units.setdefault(str(p["school"]), []).append(u)
    placed = placed_at.__getitem__

    def key(u: str, s: str) -> tuple[int, int, int]:
        rank = choices[u].index(s) + 1 if mechanism == "preference-rounds" else 0
        return (rank, -prio[u].get(s, 0), number[(u, s)])

    def row(aid: str, s: str) -> Row:
        u = unit_of[aid]
        return Row(aid, u, prio[u].get(s, 0), number[(u, s)], choices[u].index(s) + 1)

    tables: dict[str, SchoolTable] = {}
    cutoffs: dict[str, tuple[int, int, int] | None] = {}
    for s, cap in schools.items():
        out = res_schools.get(s, {"admitted": [], "waitlist": []})
        adm_units = admitted_units[s]
        # The school "filled up" when someone who listed it (and did not get a school ranked
        # higher) was turned away; the key of the last admitted unit is then the cutoff.
        turned_away = [
            u
            for u in listed[s]
            if placed(u) != s
            and (placed(u) is None or choices[u].index(placed(u) or "") > choices[u].index(s))
        ]
        ck = max((key(u, s) for u in adm_units), default=None) if turned_away else None
        cutoffs[s] = ck
        cutoff = None
        if ck is not None:
            cutoff = Cutoff(band=-ck[1], lottery_number=ck[2], choice=ck[0] or None)
        tables[s] = SchoolTable(
            school=s,
            capacity=cap,
            applicants=sum(len(members[u]) for u in listed[s]),
            admitted=tuple(row(a, s) for a in out["admitted"]),
            waitlist=tuple(row(a, s) for a in out["waitlist"]),
            cutoff=cutoff,
        )
    waitpos = {
        s: {r.application: i for i, r in enumerate(t.waitlist, 1)} for s, t in tables.items()
    }
    standings: dict[str, tuple[Standing, ...]] = {}
    for aid, u in unit_of.items():
        here = placed(u)
        mine: list[Standing] = []
        for rank, s in enumerate(choices[u], 1):
            wpos = waitpos[s].get(aid)
            if here == s:
                outcome, reason = "admitted", "admitted"
            elif here is not None and choices[u].index(here) < rank - 1:
                outcome, reason = "admitted-higher-choice", "higher-choice"
            else:
                outcome = "waitlisted" if wpos is not None else "not-admitted"
                ck = cutoffs[s]
                k = key(u, s)
                if ck is None:
                    reason = "not-reached"
                elif k[0] > ck[0]:
                    reason = "later-round"
                elif k > ck:
                    reason = "after-cutoff"
                elif len(members[u]) > 1:
                    reason = "bundle-did-not-fit"
                else:
                    reason = "not-reached"
            mine.append(Standing(s, rank, prio[u].get(s, 0), number[(u, s)], outcome, reason, wpos))
        standings[aid] = tuple(mine)
    return DrawTables(
        draw=draw_id,
        mechanism=mechanism,
        tie_breaking=tie,
        group_policy=policy,
        schools=tables,
        standings=standings,
        placements={a: placed(u) for a, u in unit_of.items()},
        tickets=tickets,
        units=unit_of,
        positions=positions,
    )


def fairness_outcomes(
    tables: Sequence[DrawTables],
    *,
    district: Mapping[str, str],
    registration_day: Mapping[str, int],
    band_label: Mapping[tuple[str, int], str],
) -> list[Any]:
    """``audit.fairness.Outcome`` records (one per unit and school it listed, per draw).

    Unit ids are ``<draw>:<unit>`` (an applicant may compete in the private and the public
    round: two rosters, two positions). ``district`` / ``registration_day`` are per applicant id
    (a unit takes its first member's); ``band_label`` maps (school id, priority) to the band's
    code ("" when absent). Tickets: ``single`` draws only (``multiple`` tickets differ per school
    and the fairness ticket tests assume one per unit).
    """
    from audit.fairness import Outcome

    out: list[Outcome] = []
    for t in tables:
        first: dict[str, str] = {}
        for aid, u in t.units.items():
            if u not in first or aid < first[u]:
                first[u] = aid
        for u, a0 in sorted(first.items()):
            for st in t.standings[a0]:
                out.append(
                    Outcome(
                        unit_id=f"{t.draw}:{u}",
                        pool=f"{t.draw}:{st.school}",
                        admitted=st.outcome == "admitted",
                        band=band_label.get((st.school, st.band), str(st.band) if st.band else ""),
                        district=district.get(a0, ""),
                        registration_day=registration_day.get(a0, 0),
                        position=t.positions[u],
                        ticket=t.tickets.get(u) if t.tie_breaking == "single" else None,
                        choice_rank=st.choice,
                    )
                )
    return out
