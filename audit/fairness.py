"""The fairness check published with lottery results (format ``paiwei-fairness/1``).

Theory of operation
-------------------
The US Diversity Visa lottery DV-2012 was voided because a programming error made more than 90% of
the selectees come from the first two days of a 30-day registration window (State Department FAQ,
May 2011; see docs/fairness.md). A fair draw cannot produce such a pattern, and a pattern like it is
easy to detect once the outcomes are tabulated against *when* and *in which order* applicants
registered. This module does that tabulation and attaches statistical tests to it.

Input is one ``Outcome`` per unit (applicant, or bundle of multiples) and lottery pool it competed
in. Two families of tests run:

(a) **Tickets.** A ticket is a hash output (lottery spec: HMAC-SHA256), so its leading 64 bits,
    read as a fraction of 2**64, must be uniform on [0, 1) and independent of everything known
    before the seed. The fractions are put into ``B`` equal-width bins (B = 10, fewer for tiny
    rosters) and compared with the uniform expectation by Pearson's chi-square goodness-of-fit
    test: once over all tickets (dof B-1), and once per grouping (registration day,
    roster-position decile, district) as the sum of each group's goodness-of-fit statistic
    (dof G*(B-1)), which detects tickets whose distribution depends on the group.

(b) **Admission within strata.** Who is admitted legitimately depends on the pool and the priority
    band, so the comparison is made within strata (pool × band × choice rank). In a fair lottery the
    admitted members of a stratum with ``N`` members and ``m`` admissions are a uniformly random
    ``m``-subset, so the admitted count of each group follows the multivariate hypergeometric law.
    The generalized Cochran–Mantel–Haenszel statistic (Landis, Heyman & Koch 1978, "Average
    partial association in three-way contingency tables", Int. Stat. Rev. 46: 237–254) sums
    observed − expected over strata and scales it by the summed hypergeometric covariance:
    ``Q = dᵀ V⁺ d`` with ``d = Σ_k (a_k − n_k m_k / N_k)`` and
    ``V = Σ_k m_k (N_k − m_k) / (N_k² (N_k − 1)) · (N_k diag(n_k) − n_k n_kᵀ)``; ``Q ~ χ²(rank V)``.
    For the ordinal groupings (day, position decile) the CMH correlation statistic with group
    scores 0, 1, 2, ... (1 dof) is reported too: it is the most powerful test against a monotone
    drift such as DV-2012's.

Each unit is counted once in (b): its record with the best (lowest) ``choice_rank``. A unit's
outcomes in several pools share its ticket under single tie-breaking and are therefore correlated,
while the CMH variance assumes independent strata.

Small groups are merged before testing so that chi-square approximations hold: adjacent ordinal
groups, and nominal groups into ``"(small groups)"``, until every group has at least 5 expected
tickets per bin in (a) and at least ``MIN_GROUP`` units in (b).

A test is **flagged** when its p-value is below ``threshold`` (default 0.001). With the nine tests
of a report, a fair draw raises at least one flag with probability at most about 0.9% (union
bound), while a DV-2012-sized skew gives p-values far below 1e-10. A test that cannot be run (too
few tickets, no stratum with both winners and losers) says so and is never reported as passed.

The module is pure (no I/O, clock or randomness); numpy and scipy do the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rfc8785
from numpy.typing import NDArray
from scipy import stats

FORMAT = "paiwei-fairness/1"
THRESHOLD = 1e-3
MIN_GROUP = 20
DEFAULT_BINS = 10
_SMALL = "(small groups)"
_HEX = frozenset("0123456789abcdefABCDEF")


class FairnessInputError(ValueError):
    """An outcome is malformed; the message names the record index, the field and the problem."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One unit's result in one pool.

    ``pool``: the lottery pool or school the unit competed in; ``band``: its priority band there
    ("" when none); ``district``: six-digit district code (or any label); ``registration_day``:
    0-based day of the registration window; ``position``: 0-based position in the frozen roster;
    ``ticket``: the unit's ticket as hex (at least 16 hex digits), or None; ``choice_rank``: the
    rank of this pool in the unit's choices (1 = first choice).
    """

    unit_id: str
    pool: str
    admitted: bool
    band: str
    district: str
    registration_day: int
    position: int
    ticket: str | None = None
    choice_rank: int = 1


@dataclass(frozen=True, slots=True)
class GroupRate:
    """Admissions of one group, against the expectation of a fair draw within the strata."""

    group: str
    units: int
    admitted: int
    rate: float
    expected: float  # expected admissions: Σ over the group's units of its stratum's rate
    ratio: float | None  # admitted / expected; None when nothing was expected


@dataclass(frozen=True, slots=True)
class TestResult:
    name: str
    grouping: str
    method: str
    applicable: bool
    statistic: float | None
    dof: int
    p_value: float | None
    flagged: bool
    note: str


@dataclass(frozen=True, slots=True)
class FairnessReport:
    format: str
    threshold: float
    records: int
    units: int
    admitted: int
    rates: tuple[tuple[str, tuple[GroupRate, ...]], ...]  # (grouping, rows)
    tests: tuple[TestResult, ...]
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "threshold": self.threshold,
            "records": self.records,
            "units": self.units,
            "admitted": self.admitted,
            "flagged": self.flagged,
            "rates": {
                grouping: [
                    {
                        "group": r.group,
                        "units": r.units,
                        "admitted": r.admitted,
                        "rate": _clean(r.rate),
                        "expected": _clean(r.expected),
                        "ratio": _clean(r.ratio),
                    }
                    for r in rows
                ]
                for grouping, rows in self.rates
            },
            "tests": [
                {
                    "name": t.name,
                    "grouping": t.grouping,
                    "method": t.method,
                    "applicable": t.applicable,
                    "statistic": _clean(t.statistic),
                    "dof": t.dof,
                    "p_value": _clean(t.p_value),
                    "flagged": t.flagged,
                    "note": t.note,
                }
                for t in self.tests
            ],
        }

    def to_json(self) -> bytes:
        """RFC 8785 canonical JSON of ``to_dict()`` (floats rounded to 12 significant digits)."""
        return rfc8785.dumps(self.to_dict())


def _clean(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.12g}")


def ticket_fraction(ticket: str) -> float:
    """The ticket's leading 64 bits as a fraction of 2**64, in [0, 1)."""
    return int(ticket[:16], 16) / 2.0**64


def _validate(outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        raise FairnessInputError("outcomes: no outcomes to check")
    seen_pool: set[tuple[str, str]] = set()
    unit_facts: dict[str, tuple[int, int, str]] = {}
    for i, o in enumerate(outcomes):
        where = f"outcomes[{i}]"
        if not isinstance(o, Outcome):
            raise FairnessInputError(f"{where}: expected an Outcome, got {type(o).__name__}")
        for name in ("unit_id", "pool"):
            v = getattr(o, name)
            if not isinstance(v, str) or not v:
                raise FairnessInputError(f"{where}.{name}: must be a non-empty string")
        for name in ("band", "district"):
            if not isinstance(getattr(o, name), str):
                raise FairnessInputError(f"{where}.{name}: must be a string")
        if not isinstance(o.admitted, bool):
            raise FairnessInputError(f"{where}.admitted: must be true or false")
        for name, low in (("registration_day", 0), ("position", 0), ("choice_rank", 1)):
            v = getattr(o, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise FairnessInputError(f"{where}.{name}: must be an integer >= {low}")
        if o.ticket is not None:
            t = o.ticket
            if not isinstance(t, str) or len(t) < 16:
                raise FairnessInputError(f"{where}.ticket: must be at least 16 hex digits")
            if not _HEX.issuperset(t):
                raise FairnessInputError(f"{where}.ticket: not a hexadecimal string")
        key = (o.unit_id, o.pool)
        if key in seen_pool:
            raise FairnessInputError(
                f"{where}: unit {o.unit_id!r} appears twice in pool {o.pool!r}"
            )
        seen_pool.add(key)
        facts = (o.registration_day, o.position, o.district)
        if unit_facts.setdefault(o.unit_id, facts) != facts:
            raise FairnessInputError(
                f"{where}: unit {o.unit_id!r} has a different registration_day, position or "
                "district than in an earlier record"
            )


def _deciles(units: Mapping[str, Outcome]) -> dict[str, int]:
    """Roster-position decile (0..9) of each unit, by rank of its position among the units."""
    order = sorted(units, key=lambda u: (units[u].position, u))
    n = len(order)
    return {u: (10 * i) // n for i, u in enumerate(order)}


def _merge_ordinal(counts: Mapping[int, int], minimum: int) -> dict[int, int]:
    """Map each ordinal group to a merged group: adjacent groups are pooled until >= minimum.

    A short last run is merged into the previous group. Returns group -> index of merged group.
    """
    keys = sorted(counts)
    runs: list[list[int]] = []
    acc = 0
    for k in keys:
        if not runs or acc >= minimum:
            runs.append([k])
            acc = counts[k]
        else:
            runs[-1].append(k)
            acc += counts[k]
    if len(runs) > 1 and acc < minimum:
        last = runs.pop()
        runs[-1].extend(last)
    return {k: i for i, run in enumerate(runs) for k in run}


def _ordinal_labels(mapping: Mapping[int, int], prefix: str) -> list[str]:
    labels: list[str] = []
    for g in range(max(mapping.values()) + 1):
        members = sorted(k for k, v in mapping.items() if v == g)
        lo, hi = members[0], members[-1]
        labels.append(f"{prefix}{lo}" if lo == hi else f"{prefix}{lo}-{hi}")
    return labels


def _merge_nominal(counts: Mapping[str, int], minimum: int) -> tuple[dict[str, int], list[str]]:
    big = sorted(k for k, c in counts.items() if c >= minimum)
    small = sorted(k for k, c in counts.items() if c < minimum)
    labels = list(big)
    mapping = {k: i for i, k in enumerate(big)}
    if small:
        if sum(counts[k] for k in small) >= minimum or not big:
            labels.append(_SMALL)
            idx = len(labels) - 1
        else:  # too few even together: join the smallest big group
            idx = min(range(len(big)), key=lambda i: (counts[big[i]], big[i]))
            labels[idx] = f"{labels[idx]}+{_SMALL}"
        mapping.update({k: idx for k in small})
    return mapping, labels


@dataclass(frozen=True, slots=True)
class _Grouping:
    name: str
    key: Callable[[Outcome], Hashable]
    ordinal: bool


def _groups(
    grouping: _Grouping, records: Sequence[Outcome], minimum: int
) -> tuple[NDArray[np.int64], list[str]]:
    raw: list[Any] = [grouping.key(o) for o in records]
    counts: dict[Any, int] = {}
    for k in raw:
        counts[k] = counts.get(k, 0) + 1
    if grouping.ordinal:
        omap = _merge_ordinal(counts, minimum)
        prefix = "day " if grouping.name == "registration_day" else "decile "
        return np.array([omap[k] for k in raw], dtype=np.int64), _ordinal_labels(omap, prefix)
    nmap, labels = _merge_nominal(counts, minimum)
    return np.array([nmap[k] for k in raw], dtype=np.int64), labels


def _not_applicable(name: str, grouping: str, method: str, note: str) -> TestResult:
    return TestResult(name, grouping, method, False, None, 0, None, False, note)


def _chi2_result(
    name: str, grouping: str, method: str, stat: float, dof: int, threshold: float, note: str
) -> TestResult:
    p = float(stats.chi2.sf(stat, dof))
    return TestResult(name, grouping, method, True, stat, dof, p, p < threshold, note)


_GOF = "Pearson chi-square goodness of fit to the uniform distribution"
_GOF_GROUPS = "sum over groups of chi-square goodness of fit to the uniform distribution"
_CMH = "generalized Cochran–Mantel–Haenszel (general association), strata pool×band×rank"
_TREND = "Cochran–Mantel–Haenszel correlation (linear trend), scores 0..G-1"


def _ticket_tests(
    units: Mapping[str, Outcome],
    tickets: Sequence[tuple[str, str]],
    groupings: Sequence[_Grouping],
    threshold: float,
    bins: int,
) -> list[TestResult]:
    n = len(tickets)
    b = min(bins, n // 5)  # at least 5 expected tickets per bin
    if b < 2:
        note = f"{n} tickets: too few for a chi-square test (need >= 10)"
        return [_not_applicable("ticket_uniformity", "all", _GOF, note)] + [
            _not_applicable(f"ticket_vs_{g.name}", g.name, _GOF_GROUPS, note) for g in groupings
        ]
    frac = np.array([ticket_fraction(t) for _, t in tickets], dtype=np.float64)
    bin_idx = np.minimum((frac * b).astype(np.int64), b - 1)
    observed = np.bincount(bin_idx, minlength=b).astype(np.float64)
    stat = float(((observed - n / b) ** 2 / (n / b)).sum())
    note = f"{n} tickets in {b} equal-width bins of their leading 64 bits"
    results = [_chi2_result("ticket_uniformity", "all", _GOF, stat, b - 1, threshold, note)]
    owners = [units[u] for u, _ in tickets]
    for g in groupings:
        gi, labels = _groups(g, owners, 5 * b)
        k = len(labels)
        table = np.zeros((k, b), dtype=np.float64)
        np.add.at(table, (gi, bin_idx), 1.0)
        row_exp = table.sum(axis=1, keepdims=True) / b
        stat = float(((table - row_exp) ** 2 / row_exp).sum())
        note = f"{k} groups × {b} bins: are the tickets uniform within every group?"
        results.append(
            _chi2_result(
                f"ticket_vs_{g.name}", g.name, _GOF_GROUPS, stat, k * (b - 1), threshold, note
            )
        )
    return results


def _cmh(
    strata: NDArray[np.int64],
    groups: NDArray[np.int64],
    admitted: NDArray[np.float64],
    n_groups: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Σ_k (a_k − E a_k) and the summed hypergeometric covariance over informative strata
    (strata with both admitted and rejected units; the others have no variance)."""
    n_strata = int(strata.max()) + 1
    n = np.zeros((n_strata, n_groups), dtype=np.float64)
    a = np.zeros((n_strata, n_groups), dtype=np.float64)
    np.add.at(n, (strata, groups), 1.0)
    np.add.at(a, (strata, groups), admitted)
    big_n = n.sum(axis=1)
    m = a.sum(axis=1)
    informative = (m > 0) & (m < big_n) & (big_n > 1)
    n, a, big_n, m = n[informative], a[informative], big_n[informative], m[informative]
    d = (a - n * (m / big_n)[:, None]).sum(axis=0)
    c = m * (big_n - m) / (big_n**2 * (big_n - 1))
    v = np.diag((c * big_n) @ n) - (n * c[:, None]).T @ n
    return d, v, int(informative.sum())


def _admission_tests(
    records: Sequence[Outcome],
    groupings: Sequence[_Grouping],
    threshold: float,
) -> list[TestResult]:
    ids: dict[tuple[str, str, int], int] = {}
    strata = np.array(
        [ids.setdefault((o.pool, o.band, o.choice_rank), len(ids)) for o in records],
        dtype=np.int64,
    )
    admitted = np.array([1.0 if o.admitted else 0.0 for o in records], dtype=np.float64)
    results: list[TestResult] = []
    for g in groupings:
        gi, labels = _groups(g, records, MIN_GROUP)
        k = len(labels)
        d, v, informative = _cmh(strata, gi, admitted, k)
        name, tname = f"admission_vs_{g.name}", f"admission_trend_{g.name}"
        if informative == 0 or k < 2:
            why = (
                "no stratum has both admitted and rejected units"
                if informative == 0
                else "fewer than two groups after merging small groups"
            )
            results.append(_not_applicable(name, g.name, _CMH, why))
            if g.ordinal:
                results.append(_not_applicable(tname, g.name, _TREND, why))
            continue
        dof = int(np.linalg.matrix_rank(v))
        if dof == 0:
            why = "groups do not vary within any informative stratum"
            results.append(_not_applicable(name, g.name, _CMH, why))
        else:
            stat = float(d @ np.linalg.pinv(v) @ d)
            note = f"{k} groups, {informative} informative strata"
            results.append(_chi2_result(name, g.name, _CMH, stat, dof, threshold, note))
        if g.ordinal:
            scores = np.arange(k, dtype=np.float64)
            var = float(scores @ v @ scores)
            if var <= 1e-12:
                why = "no variance: groups do not vary within informative strata"
                results.append(_not_applicable(tname, g.name, _TREND, why))
            else:
                stat = float((scores @ d) ** 2 / var)
                note = "drift of the admission rate with later registration or roster position"
                results.append(_chi2_result(tname, g.name, _TREND, stat, 1, threshold, note))
    return results


def _rates(
    name: str,
    keys: Sequence[str],
    records: Sequence[Outcome],
    stratum_key: Callable[[Outcome], Hashable],
    order: Callable[[str], Any],
) -> tuple[str, tuple[GroupRate, ...]]:
    tot: dict[Hashable, list[int]] = {}
    for o in records:
        t = tot.setdefault(stratum_key(o), [0, 0])
        t[0] += 1
        t[1] += int(o.admitted)
    rows: dict[str, list[float]] = {}
    for key, o in zip(keys, records, strict=True):
        t = tot[stratum_key(o)]
        r = rows.setdefault(key, [0, 0, 0.0])
        r[0] += 1
        r[1] += int(o.admitted)
        r[2] += t[1] / t[0]
    out = tuple(
        GroupRate(
            group=key,
            units=int(r[0]),
            admitted=int(r[1]),
            rate=r[1] / r[0],
            expected=r[2],
            ratio=(r[1] / r[2]) if r[2] > 0 else None,
        )
        for key, r in sorted(rows.items(), key=lambda kv: order(kv[0]))
    )
    return name, out


def fairness_report(
    outcomes: Sequence[Outcome],
    *,
    threshold: float = THRESHOLD,
    bins: int = DEFAULT_BINS,
) -> FairnessReport:
    """Tabulate admissions by registration day, roster-position decile, district and priority band,
    and run the ticket and admission tests described in the module docstring.

    Raises ``FairnessInputError`` naming the record and field on malformed input.
    """
    if not 0.0 < threshold < 1.0:
        raise FairnessInputError(f"threshold: must be in (0, 1), got {threshold!r}")
    if not 2 <= bins <= 1000:
        raise FairnessInputError(f"bins: must be in 2..1000, got {bins!r}")
    _validate(outcomes)
    # One record per unit for the tests and rates: its best-ranked choice (first seen on ties).
    best: dict[str, Outcome] = {}
    for o in outcomes:
        cur = best.get(o.unit_id)
        if cur is None or o.choice_rank < cur.choice_rank:
            best[o.unit_id] = o
    records = list(best.values())
    decile = _deciles(best)
    groupings = (
        _Grouping("registration_day", lambda o: o.registration_day, True),
        _Grouping("position_decile", lambda o: decile[o.unit_id], True),
        _Grouping("district", lambda o: o.district, False),
    )
    tickets = sorted({(o.unit_id, o.ticket) for o in outcomes if o.ticket is not None})
    tests = _ticket_tests(best, tickets, groupings, threshold, bins)
    tests += _admission_tests(records, groupings, threshold)

    def full(o: Outcome) -> Hashable:
        return (o.pool, o.band, o.choice_rank)

    def pool_only(o: Outcome) -> Hashable:
        return (o.pool, o.choice_rank)

    rates = (
        _rates("registration_day", [str(o.registration_day) for o in records], records, full, int),
        _rates("position_decile", [str(decile[o.unit_id]) for o in records], records, full, int),
        _rates("district", [o.district for o in records], records, full, str),
        # Bands decide admission by rule; the expectation here is a lottery without bands.
        _rates("band", [o.band for o in records], records, pool_only, str),
    )
    return FairnessReport(
        format=FORMAT,
        threshold=threshold,
        records=len(outcomes),
        units=len(records),
        admitted=sum(o.admitted for o in records),
        rates=rates,
        tests=tuple(tests),
        flagged=any(t.flagged for t in tests),
    )
