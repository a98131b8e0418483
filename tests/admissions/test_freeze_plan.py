"""The freeze planner (admissions.campaigns.freeze.plan): reserved seats, undersubscribed pools,
one roster per connected component -- and, as a property, that placing undersubscribed first
choices without a lottery and splitting into components gives exactly what one lottery over the
whole campaign would give (both mechanisms, both tie-breakings)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery
from admissions.campaigns.freeze import instance_bytes, plan


def school(code: str, pools: dict[str, int], reserved: dict[str, int] | None = None) -> Any:
    return SimpleNamespace(
        code=code,
        kind="private",
        pools=[{"code": p, "name": p, "seats": n} for p, n in pools.items()],
        reserved=[{"category": c, "seats": n} for c, n in (reserved or {}).items()],
    )


def app(
    number: str, *choices: str, group: str | None = None, claims: list[dict[str, str]] | None = None
) -> Any:
    return SimpleNamespace(
        number=number,
        group_id=group,
        choices={
            "public": None,
            "private": [{"school": c.split("/")[0], "pool": c.split("/")[1]} for c in choices],
        },
        claims=claims or [],
    )


def test_one_roster_per_oversubscribed_pool_with_single_choices() -> None:
    schools = {
        "A": school("A", {"day": 1}),
        "B": school("B", {"day": 5}),
        "C": school("C", {"day": 1}),
    }
    apps = [
        app("N1", "A/day"),
        app("N2", "A/day"),
        app("N3", "B/day"),
        app("N4", "C/day"),
        app("N5", "C/day"),
    ]
    rosters, placed = plan(apps, schools)
    assert [r["schools"] for r in rosters] == [
        [{"id": "A/day", "capacity": 1}],
        [{"id": "C/day", "capacity": 1}],
    ]
    assert placed == [("N3", "B", "day", "undersubscribed")]
    assert all(r["format"] == "paiwei-instance/1" and "seed" not in r for r in rosters)


def test_reserved_seats_fill_first_and_roll_over() -> None:
    staff = [{"kind": "reserved", "school": "A", "code": "staff", "status": "eligible"}]
    rejected = [{"kind": "reserved", "school": "A", "code": "staff", "status": "ineligible"}]
    schools = {"A": school("A", {"day": 1}, {"staff": 2})}
    apps = [
        app("S1", "A/day", claims=staff),
        app("N1", "A/day", claims=rejected),
        app("N2", "A/day"),
        app("N3", "A/day"),
    ]
    rosters, placed = plan(apps, schools)
    assert ("S1", "A", None, "reserved:staff") in placed
    # one unused staff seat rolls into the pool: 2 seats for N1..N3
    assert rosters[0]["schools"] == [{"id": "A/day", "capacity": 2}]
    assert [a["id"] for a in rosters[0]["applicants"]] == ["N1", "N2", "N3"]


def test_oversubscribed_reserved_category_is_its_own_lottery() -> None:
    staff = [{"kind": "reserved", "school": "A", "code": "staff", "status": "eligible"}]
    schools = {"A": school("A", {"day": 2}, {"staff": 1})}
    apps = [app("S1", "A/day", claims=staff), app("S2", "A/day", claims=staff), app("N1", "A/day")]
    rosters, placed = plan(apps, schools)
    assert placed == []
    (r,) = rosters
    assert {"id": "A/reserved:staff", "capacity": 1} in r["schools"]
    by_id = {a["id"]: a["choices"] for a in r["applicants"]}
    assert by_id["S1"] == ["A/reserved:staff", "A/day"] and by_id["N1"] == ["A/day"]


def test_twins_are_one_unit_and_ranked_choices_couple_pools() -> None:
    schools = {"A": school("A", {"day": 1}), "B": school("B", {"day": 1})}
    apps = [
        app("T1", "A/day", "B/day", group="G-T1"),
        app("T2", "A/day", "B/day", group="G-T1"),
        app("N1", "B/day", "A/day"),
    ]
    (r,), placed = plan(apps, schools)
    assert placed == []
    assert [s["id"] for s in r["schools"]] == ["A/day", "B/day"]
    assert {a["group"] for a in r["applicants"] if a["id"].startswith("T")} == {"G-T1"}
    inst = lottery.parse_instance(
        instance_bytes(rfc8785.dumps(r), bytes(32), "deferred-acceptance", "single", "all-or-none")
    )
    assert inst is not None


@st.composite
def campaigns(draw: Any) -> tuple[dict[str, Any], list[Any]]:
    n_schools = draw(st.integers(1, 4))
    schools = {f"S{i}": school(f"S{i}", {"p": draw(st.integers(0, 4))}) for i in range(n_schools)}
    apps = []
    for k in range(draw(st.integers(1, 14))):
        ch = draw(st.lists(st.sampled_from(sorted(schools)), min_size=1, max_size=3, unique=True))
        apps.append(app(f"N{k:02d}", *[f"{c}/p" for c in ch]))
    return schools, apps


@settings(max_examples=60, deadline=None)
@given(
    campaigns(),
    st.sampled_from(["deferred-acceptance", "preference-rounds"]),
    st.sampled_from(["single", "multiple"]),
    st.binary(min_size=32, max_size=32),
)
def test_planning_equals_one_big_lottery(c: Any, mechanism: str, tie: str, seed: bytes) -> None:
    schools, apps = c
    full = {
        "format": "paiwei-instance/1",
        "seed": seed.hex(),
        "mechanism": mechanism,
        "tie_breaking": tie,
        "group_policy": "all-or-none",
        "schools": [
            {"id": f"{s}/p", "capacity": schools[s].pools[0]["seats"]} for s in sorted(schools)
        ],
        "applicants": [
            {"id": a.number, "choices": [f"{x['school']}/p" for x in a.choices["private"]]}
            for a in apps
        ],
    }
    want = {
        k: (v["school"] if v else None)
        for k, v in json.loads(lottery.run(rfc8785.dumps(full)))["assignments"].items()
    }
    rosters, placed = plan(apps, schools)
    got: dict[str, str | None] = {n: f"{s}/{p}" for n, s, p, _ in placed}
    for r in rosters:
        res = json.loads(
            lottery.run(instance_bytes(rfc8785.dumps(r), seed, mechanism, tie, "all-or-none"))
        )
        got.update({k: (v["school"] if v else None) for k, v in res["assignments"].items()})
    for a in apps:
        got.setdefault(a.number, None)
    assert got == want


def test_public_round_uses_approved_bands_as_priority() -> None:
    from admissions.campaigns.freeze import plan_public

    pub = SimpleNamespace(
        code="PUB",
        kind="public",
        plan=2,
        bands=[{"code": "hp", "rank": 2}, {"code": "h", "rank": 1}],
    )
    small = SimpleNamespace(code="SMALL", kind="public", plan=5, bands=[])

    def papp(n: str, school: str, band: str | None = None, status: str = "eligible") -> Any:
        claims = (
            [{"kind": "band", "school": school, "code": band, "status": status}] if band else []
        )
        return SimpleNamespace(
            number=n, group_id=None, choices={"public": school, "private": []}, claims=claims
        )

    apps = [
        papp("A", "PUB", "hp"),
        papp("B", "PUB", "h"),
        papp("C", "PUB", "hp", status="ineligible"),
        papp("D", "PUB"),
        papp("E", "SMALL"),
        papp("F", "PUB", "hp"),
    ]
    (r,), placed = plan_public(apps, {"PUB": pub, "SMALL": small}, placed={"F"})
    assert placed == [("E", "SMALL", None, "undersubscribed")]
    prio = {a["id"]: a["priority"] for a in r["applicants"]}
    assert prio == {"A": {"PUB": 2}, "B": {"PUB": 1}, "C": {}, "D": {}}
    res = json.loads(
        lottery.run(
            instance_bytes(
                rfc8785.dumps(r), bytes(32), "deferred-acceptance", "single", "all-or-none"
            )
        )
    )
    assert res["schools"]["PUB"]["admitted"] == ["A", "B"]  # priority bands served first
