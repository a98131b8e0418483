"""Pure publication tables: masking, lottery numbers, cutoffs, explanations, fairness records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery
from admissions.publication.tables import (
    REASONS,
    TableError,
    draw_tables,
    fairness_outcomes,
    mask_name,
)

SEED = "11" * 32


def instance(
    schools: dict[str, int],
    applicants: list[dict[str, Any]],
    mechanism: str = "deferred-acceptance",
    tie: str = "single",
    policy: str = "all-or-none",
    seed: str = SEED,
) -> bytes:
    return lottery.canonical_json(
        {
            "format": "paiwei-instance/1",
            "seed": seed,
            "mechanism": mechanism,
            "tie_breaking": tie,
            "group_policy": policy,
            "schools": [{"id": s, "capacity": c} for s, c in schools.items()],
            "applicants": applicants,
        }
    )


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张小明", "张*明"),
        ("欧阳娜娜", "欧**娜"),
        ("李明", "李*"),
        ("王", "*"),
        ("", "*"),
        (" 张小明 ", "张*明"),
        ("Anna Li", "A*****i"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_single_school_numbers_and_cutoff() -> None:
    apps = [{"id": f"A{i:02d}", "choices": ["S"]} for i in range(10)]
    inst = instance({"S": 4}, apps)
    res = lottery.run(inst)
    t = draw_tables("d1", inst, res)
    tickets = json.loads(res)["tickets"]
    order = sorted(tickets, key=lambda u: tickets[u])
    table = t.schools["S"]
    # lottery number = rank of the ticket
    assert [r.application for r in table.admitted] == order[:4]
    assert [r.lottery_number for r in table.admitted] == [1, 2, 3, 4]
    assert [r.application for r in table.waitlist] == order[4:]
    assert table.cutoff is not None and table.cutoff.lottery_number == 4
    assert table.cutoff.band == 0 and table.cutoff.choice is None
    assert table.applicants == 10
    loser = t.standings[order[7]][0]
    assert (loser.outcome, loser.reason, loser.waitlist_position) == (
        "waitlisted",
        "after-cutoff",
        4,
    )
    assert t.standings[order[0]][0].reason == "admitted"


def test_undersubscribed_has_no_cutoff() -> None:
    inst = instance({"S": 5}, [{"id": f"A{i}", "choices": ["S"]} for i in range(3)])
    t = draw_tables("d", inst, lottery.run(inst))
    assert t.schools["S"].cutoff is None
    assert all(s[0].outcome == "admitted" for s in t.standings.values())


def test_bands_come_first() -> None:
    apps = [
        {"id": f"A{i}", "choices": ["S"], "priority": {"S": 2 if i < 3 else 0}} for i in range(8)
    ]
    inst = instance({"S": 4}, apps)
    t = draw_tables("d", inst, lottery.run(inst))
    table = t.schools["S"]
    assert {r.application for r in table.admitted} >= {"A0", "A1", "A2"}
    assert table.cutoff is not None and table.cutoff.band == 0
    for a in ("A0", "A1", "A2"):
        assert t.standings[a][0].band == 2


def test_preference_rounds_names_the_round() -> None:
    # X has 2 seats; 4 rank it first, 3 rank it second (after Y, which has 0 seats left for them).
    apps = [{"id": f"F{i}", "choices": ["X", "Y"]} for i in range(4)]
    apps += [{"id": f"G{i}", "choices": ["Y", "X"]} for i in range(3)]
    inst = instance({"X": 2, "Y": 1}, apps, mechanism="preference-rounds")
    t = draw_tables("d", inst, lottery.run(inst))
    assert t.schools["X"].cutoff is not None and t.schools["X"].cutoff.choice == 1
    reasons = {t.standings[g][1].reason for g in ("G0", "G1", "G2") if t.placements[g] != "Y"}
    assert reasons == {"later-round"}


def test_multiple_tie_breaking_recomputes_tickets() -> None:
    apps = [{"id": f"A{i}", "choices": ["S", "T"]} for i in range(6)]
    inst = instance({"S": 2, "T": 2}, apps, tie="multiple")
    t = draw_tables("d", inst, lottery.run(inst))
    seed = bytes.fromhex(SEED)
    at_s = sorted((lottery.ticket(seed, a, "S"), a) for a in t.units)
    assert [a for _, a in at_s[:2]] == [r.application for r in t.schools["S"].admitted]


def test_mismatched_result_is_refused() -> None:
    a = instance({"S": 1}, [{"id": "A", "choices": ["S"]}])
    b = instance({"S": 1}, [{"id": "B", "choices": ["S"]}])
    with pytest.raises(TableError, match="not the instance's"):
        draw_tables("d", a, lottery.run(b))
    with pytest.raises(TableError, match="format"):
        draw_tables("d", b"{}", lottery.run(b))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 14),
    cap=st.integers(0, 6),
    bands=st.lists(st.integers(0, 2), min_size=14, max_size=14),
    twins=st.integers(0, 3),
    mechanism=st.sampled_from(["deferred-acceptance", "preference-rounds"]),
    policy=st.sampled_from(["all-or-none", "admit-together"]),
    seed=st.binary(min_size=32, max_size=32),
)
def test_explanations_agree_with_the_cutoff(
    n: int, cap: int, bands: list[int], twins: int, mechanism: str, policy: str, seed: bytes
) -> None:
    """Every admitted unit's key is at or before the cutoff; every 'after-cutoff' one after it;
    a unit before the cutoff that lost is a bundle (all-or-none)."""
    apps: list[dict[str, Any]] = []
    for i in range(n):
        ch = ["S", "T"] if i % 2 else ["T", "S"]
        g = f"G{i // 2}" if i < 2 * twins and i + (i % 2 == 0) < n else None
        if g is not None:
            ch = ["S", "T"] if (i // 2) % 2 else ["T", "S"]
        apps.append({"id": f"A{i:02d}", "choices": ch, "priority": {"S": bands[i]}, "group": g})
    # both members of a group need the same choices and must both exist
    groups: dict[str, int] = {}
    for a in apps:
        if a["group"]:
            groups[a["group"]] = groups.get(a["group"], 0) + 1
    for a in apps:
        if a["group"] and groups[a["group"]] < 2:
            a["group"] = None
    inst = instance({"S": cap, "T": 2}, apps, mechanism, "single", policy, seed.hex())
    t = draw_tables("d", inst, lottery.run(inst))
    for sid, table in t.schools.items():
        c = table.cutoff
        for aid, sts in t.standings.items():
            for s in sts:
                assert s.reason in REASONS
                if s.school != sid or c is None:
                    continue
                k = (
                    (s.choice if mechanism == "preference-rounds" else 0),
                    -s.band,
                    s.lottery_number,
                )
                ck = (c.choice or 0, -c.band, c.lottery_number)
                if s.outcome == "admitted" and policy == "all-or-none":
                    assert k <= ck
                if s.reason == "after-cutoff":
                    assert k > ck
                if s.reason == "bundle-did-not-fit":
                    assert k < ck and t.units[aid] != aid


def test_fairness_outcomes_feed_the_report() -> None:
    from audit.fairness import fairness_report

    apps = [{"id": f"A{i:03d}", "choices": ["S"]} for i in range(60)]
    inst = instance({"S": 20}, apps)
    t = draw_tables("d", inst, lottery.run(inst))
    outs = fairness_outcomes(
        [t],
        district={a["id"]: "lx" if i % 2 else "bh" for i, a in enumerate(apps)},
        registration_day={a["id"]: i % 5 for i, a in enumerate(apps)},
        band_label={},
    )
    assert len(outs) == 60 and sum(o.admitted for o in outs) == 20
    assert all(o.unit_id.startswith("d:") and o.ticket for o in outs)
    report = fairness_report(outs)
    assert report.units == 60 and report.admitted == 20
