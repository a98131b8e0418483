"""Tests of the fairness check (audit/fairness.py) on simulated draws with fixed seeds."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from audit.fairness import (
    FairnessInputError,
    Outcome,
    _cmh,
    fairness_report,
    ticket_fraction,
)

TEST_SEED = b"paiwei fairness test seed 0001"
DISTRICTS = ("320213", "320205", "320206", "320211", "320214", "320281", "320282")
DAY_WEIGHTS = (30, 18, 11, 8, 6, 5, 5, 4, 5, 8)
BANDS = ("hukou_property", "hukou", "residence_permit")


def hmac_ticket(seed: bytes, unit_id: str) -> str:
    """The lottery spec's single tie-breaking ticket: HKDF-Expand(PRK=seed, info=utf8(unit), L=32),
    i.e. the first RFC 5869 block HMAC-SHA256(seed, info || 0x01)."""
    return hmac.new(seed, unit_id.encode() + b"\x01", hashlib.sha256).hexdigest()


Applicant = tuple[str, int, int, str, list[tuple[str, str]]]  # id, day, position, district, choices


def roster(n: int, sim_seed: int) -> list[Applicant]:
    """Units registered over 10 days (front-loaded), roster in registration order, 1-2 choices of
    8 pools of which some use three priority bands."""
    rng = random.Random(sim_seed)
    days = sorted(rng.choices(range(10), weights=DAY_WEIGHTS, k=n))
    pools = [f"P{i}" for i in range(8)]
    popularity = [1 / (i + 1) for i in range(8)]
    out: list[Applicant] = []
    for pos, day in enumerate(days):
        picks = rng.choices(pools, weights=popularity, k=2)
        choices = [picks[0]] if picks[0] == picks[1] or rng.random() < 0.5 else picks
        band_of = BANDS[rng.choices(range(3), weights=(5, 2, 3))[0]]
        out.append(
            (
                f"A{sim_seed:03d}-{pos:05d}",
                day,
                pos,
                rng.choice(DISTRICTS),
                [(p, band_of if p in ("P0", "P1") else "") for p in choices],
            )
        )
    return out


def draw(
    applicants: list[Applicant],
    ticket_of: Callable[[Applicant], str],
    order: Callable[[Applicant, str, str], object] | None = None,
) -> list[Outcome]:
    """Per-pool draw with single tie-breaking: sort by (band rank, ticket), admit the top seats.
    ``order`` replaces the whole sort key to simulate a buggy implementation."""
    tickets = {a[0]: ticket_of(a) for a in applicants}
    by_pool: dict[str, list[tuple[Applicant, str, int]]] = {}
    for a in applicants:
        for rank, (pool, band) in enumerate(a[4], start=1):
            by_pool.setdefault(pool, []).append((a, band, rank))
    out: list[Outcome] = []
    for pool, members in sorted(by_pool.items()):
        seats = max(1, len(members) // 3)

        def key(m: tuple[Applicant, str, int]) -> object:
            a, band, _ = m
            if order is not None:
                return order(a, band, tickets[a[0]])
            return (BANDS.index(band) if band else 0, tickets[a[0]])

        ranked = sorted(members, key=key)
        for i, (a, band, rank) in enumerate(ranked):
            out.append(Outcome(a[0], pool, i < seats, band, a[3], a[1], a[2], tickets[a[0]], rank))
    return out


def fair(n: int = 3000, sim_seed: int = 1) -> list[Outcome]:
    return draw(roster(n, sim_seed), lambda a: hmac_ticket(TEST_SEED, a[0]))


def test_fair_draw_is_not_flagged() -> None:
    report = fairness_report(fair())
    assert not report.flagged, [t for t in report.tests if t.flagged]
    names = {t.name for t in report.tests}
    assert names == {
        "ticket_uniformity",
        "ticket_vs_registration_day",
        "ticket_vs_position_decile",
        "ticket_vs_district",
        "admission_vs_registration_day",
        "admission_trend_registration_day",
        "admission_vs_position_decile",
        "admission_trend_position_decile",
        "admission_vs_district",
    }
    assert all(t.applicable and t.p_value is not None for t in report.tests)
    assert all(t.p_value is not None and t.p_value >= report.threshold for t in report.tests)


def test_several_fair_draws_are_not_flagged() -> None:
    # Fixed seeds; at threshold 0.001 a false flag among these is a ~5% event at most.
    for s in range(2, 7):
        outcomes = draw(roster(1500, s), lambda a, s=s: hmac_ticket(bytes([s]) * 16, a[0]))
        report = fairness_report(outcomes)
        assert not report.flagged, (s, [t for t in report.tests if t.flagged])


def test_dv2012_like_selection_is_flagged() -> None:
    # The bug: winners effectively chosen among the first two days' registrations.
    outcomes = draw(
        roster(3000, 1),
        lambda a: hmac_ticket(TEST_SEED, a[0]),
        order=lambda a, band, t: (a[1] >= 2, t),
    )
    winners = [o for o in outcomes if o.admitted and o.choice_rank == 1]
    early = sum(o.registration_day < 2 for o in winners) / len(winners)
    assert early > 0.9  # the DV-2012 signature
    report = fairness_report(outcomes)
    assert report.flagged
    flagged = {t.name for t in report.tests if t.flagged}
    expected = {
        "admission_vs_registration_day",
        "admission_trend_registration_day",
        "admission_vs_position_decile",
        "admission_trend_position_decile",
    }
    assert expected <= flagged
    assert not any(t.name.startswith("ticket_") for t in report.tests if t.flagged)
    trend = next(t for t in report.tests if t.name == "admission_trend_registration_day")
    assert trend.p_value is not None and trend.p_value < 1e-10
    day_rates = dict(report.rates)["registration_day"]
    assert day_rates[0].ratio is not None and day_rates[0].ratio > 1.3
    assert day_rates[-1].ratio is not None and day_rates[-1].ratio < 0.5


def test_milder_position_bias_is_flagged() -> None:
    # A subtler bug: the ticket sort key is shifted by the roster position, by at most 0.15 of
    # its range (later = slightly worse); bands are still respected.
    outcomes = draw(
        roster(3000, 3),
        lambda a: hmac_ticket(TEST_SEED, a[0]),
        order=lambda a, band, t: (
            BANDS.index(band) if band else 0,
            ticket_fraction(t) + 0.15 * a[2] / 3000,
        ),
    )
    report = fairness_report(outcomes)
    flagged = {t.name for t in report.tests if t.flagged}
    assert "admission_trend_position_decile" in flagged


def test_ticket_depending_on_position_is_flagged() -> None:
    # Tickets from a bad generator: the leading byte grows with the roster position.
    def bad(a: Applicant) -> str:
        h = hmac_ticket(TEST_SEED, a[0])
        return f"{min(255, a[2] * 256 // 3000):02x}" + h[2:]

    report = fairness_report(draw(roster(3000, 4), bad))
    flagged = {t.name for t in report.tests if t.flagged}
    assert {"ticket_vs_position_decile", "ticket_vs_registration_day"} <= flagged
    assert "ticket_uniformity" not in flagged  # overall still uniform: only the group test sees it


def test_non_uniform_tickets_are_flagged() -> None:
    report = fairness_report(
        draw(roster(2000, 5), lambda a: "0" + hmac_ticket(TEST_SEED, a[0])[1:])
    )
    assert next(t for t in report.tests if t.name == "ticket_uniformity").flagged


def test_deterministic_json() -> None:
    a = fairness_report(fair(1200, 8)).to_json()
    b = fairness_report(fair(1200, 8)).to_json()
    assert a == b
    data = json.loads(a)
    assert data["format"] == "paiwei-fairness/1"
    assert data["threshold"] == 0.001
    assert set(data["rates"]) == {"registration_day", "position_decile", "district", "band"}
    for t in data["tests"]:
        assert set(t) == {
            "name",
            "grouping",
            "method",
            "applicable",
            "statistic",
            "dof",
            "p_value",
            "flagged",
            "note",
        }


def test_rates_add_up() -> None:
    outcomes = fair(1500, 9)
    report = fairness_report(outcomes)
    first = [o for o in outcomes if o.choice_rank == 1]
    for _, rows in report.rates:
        assert sum(r.units for r in rows) == report.units == len(first)
        assert sum(r.admitted for r in rows) == report.admitted
        assert sum(r.expected for r in rows) == pytest.approx(report.admitted)
    deciles = dict(report.rates)["position_decile"]
    assert [r.group for r in deciles] == [str(i) for i in range(10)]


def test_cmh_matches_classic_mantel_haenszel() -> None:
    # With two groups the generalized statistic is the classic MH chi-square (no continuity
    # correction): (Σ(a_k − E a_k))² / Σ Var a_k, Var = n1 n2 m (N−m) / (N² (N−1)).
    rng = np.random.default_rng(12)
    strata = rng.integers(0, 6, size=400)
    groups = rng.integers(0, 2, size=400)
    admitted = (rng.random(400) < 0.3 + 0.1 * groups).astype(np.float64)
    d, v, _ = _cmh(strata, groups, admitted, 2)
    num, var = 0.0, 0.0
    for k in range(6):
        sel = strata == k
        big_n, m = sel.sum(), admitted[sel].sum()
        n1 = (sel & (groups == 0)).sum()
        a1 = admitted[sel & (groups == 0)].sum()
        num += a1 - n1 * m / big_n
        var += n1 * (big_n - n1) * m * (big_n - m) / (big_n**2 * (big_n - 1))
    assert d[0] == pytest.approx(num)
    assert float(d @ np.linalg.pinv(v) @ d) == pytest.approx(num**2 / var)


def test_single_stratum_cmh_is_scaled_pearson() -> None:
    # One stratum: Q = (N−1)/N × Pearson's chi-square of the groups × admitted table.
    rng = np.random.default_rng(13)
    groups = rng.integers(0, 4, size=300)
    admitted = (rng.random(300) < 0.4).astype(np.float64)
    d, v, _ = _cmh(np.zeros(300, dtype=np.int64), groups, admitted, 4)
    table = np.array([[((groups == g) & (admitted == x)).sum() for x in (0, 1)] for g in range(4)])
    pearson = stats.chi2_contingency(table, correction=False)[0]
    assert float(d @ np.linalg.pinv(v) @ d) == pytest.approx(pearson * 299 / 300)


def test_not_applicable_is_never_passed() -> None:
    # Everyone admitted: no stratum can tell anything; few tickets: no ticket test.
    outcomes = [
        Outcome(f"u{i}", "P0", True, "", "320213", i % 3, i, hmac_ticket(TEST_SEED, f"u{i}"))
        for i in range(8)
    ]
    report = fairness_report(outcomes)
    assert not report.flagged
    assert all(not t.applicable and t.p_value is None for t in report.tests)
    assert all(t.note for t in report.tests)


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (Outcome("u", "P", True, "", "d", 0, 0, "xyz0123456789abcd"), r"outcomes\[0\]\.ticket"),
        (Outcome("u", "P", True, "", "d", 0, 0, "abc"), r"outcomes\[0\]\.ticket"),
        (Outcome("", "P", True, "", "d", 0, 0), r"outcomes\[0\]\.unit_id"),
        (Outcome("u", "P", True, "", "d", -1, 0), r"outcomes\[0\]\.registration_day"),
        (Outcome("u", "P", 1, "", "d", 0, 0), r"outcomes\[0\]\.admitted"),  # type: ignore[arg-type]
        (Outcome("u", "P", True, "", "d", 0, 0, None, 0), r"outcomes\[0\]\.choice_rank"),
    ],
)
def test_bad_input_names_the_field(outcome: Outcome, message: str) -> None:
    with pytest.raises(FairnessInputError, match=message):
        fairness_report([outcome])


def test_bad_input_consistency() -> None:
    with pytest.raises(FairnessInputError, match="no outcomes"):
        fairness_report([])
    a = Outcome("u", "P", True, "", "d", 0, 0)
    with pytest.raises(FairnessInputError, match=r"outcomes\[1\].*twice"):
        fairness_report([a, a])
    with pytest.raises(FairnessInputError, match=r"outcomes\[1\].*registration_day"):
        fairness_report([a, Outcome("u", "Q", True, "", "d", 1, 0)])
    with pytest.raises(FairnessInputError, match="threshold"):
        fairness_report([a], threshold=0.0)
