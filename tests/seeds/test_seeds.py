"""Tests of the demo city and the synthetic-family generator."""

from __future__ import annotations

import collections
import datetime
import json
import os
import subprocess
import sys

import pytest
from stdnum.cn import ric

from seeds import ids
from seeds.city import DISTRICTS, demo_city
from seeds.export import city_json, families_json
from seeds.families import MIGRANT_ORIGINS, band_for, families

WUXI = {
    "320213": "梁溪区", "320205": "锡山区", "320206": "惠山区", "320211": "滨湖区",
    "320214": "新吴区", "320281": "江阴市", "320282": "宜兴市",
}  # fmt: skip


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    return demo_city(2026, 2026, expected_families=3000)


@pytest.fixture(scope="module")
def fams(city):  # type: ignore[no-untyped-def]
    return families(city, 3000, seed=11)


def test_districts_are_wuxi_with_real_codes() -> None:
    assert {d.code: d.name for d in DISTRICTS} == WUXI
    for d in DISTRICTS:
        # stdnum's GB/T 2260 table knows each code under the same name (for a 2020 birth).
        first17 = f"{d.code}20200101001"
        place = ric.get_birth_place(first17 + ric.calc_check_digit(first17))
        assert place["county"] == d.name


def test_check_digit_matches_stdnum() -> None:
    for k, birth in enumerate([datetime.date(2019, 9, 1), datetime.date(2020, 8, 31)]):
        for seq in range(1, 1000, 37):
            number = ids.id_number("320213", birth, seq + k)
            assert ric.validate(number) == number


def test_city_invariants(city) -> None:  # type: ignore[no-untyped-def]
    ids_ = [s.id for s in city.schools]
    assert len(ids_) == len(set(ids_))
    communities: list[str] = []
    for d in city.districts:
        publics = city.public_schools(d.code)
        assert publics, d.code
        streets = [a.street for s in publics for a in s.catchment]
        assert sorted(streets) == sorted(d.streets)  # every street in exactly one catchment
    for s in city.schools:
        assert s.plan > 0
        if s.kind == "public":
            assert s.catchment and not s.pools and not s.reserved
            assert [b.rank for b in s.priority_bands] == [1, 2, 3]
            communities += [c for a in s.catchment for c in a.communities]
        else:
            assert not s.catchment and s.pools and s.reserved
            assert s.plan == sum(r.seats for r in s.reserved) + sum(p.seats for p in s.pools)
            assert {p.residency for p in s.pools} >= {"in_district", "out_of_district"}
    assert len(communities) == len(set(communities))  # no community in two catchments
    assert city.birth_from == datetime.date(2019, 9, 1)
    assert city.birth_to == datetime.date(2020, 8, 31)
    # 统筹: each district's public plans seat every expected child of the district.
    total = sum(d.population_10k for d in city.districts)
    for d in city.districts:
        need = city.expected_families * d.population_10k / total
        assert sum(s.plan for s in city.public_schools(d.code)) >= need


def test_id_numbers_valid_unique_and_in_age_window(city, fams) -> None:  # type: ignore[no-untyped-def]
    seen: set[str] = set()
    wuxi = set(WUXI)
    for f in fams:
        for c in f.children:
            assert ric.validate(c.id_number) == c.id_number
            assert ric.get_birth_date(c.id_number) == c.birth_date
            assert city.birth_from <= c.birth_date <= city.birth_to
            assert (int(c.id_number[16]) % 2 == 1) == (c.sex == "M")
            region = c.id_number[:6]
            assert region in wuxi or region in MIGRANT_ORIGINS
            if f.band == "residence_permit":
                assert region == f.residence.hukou_region  # migrant: home county
            assert c.id_number not in seen
            seen.add(c.id_number)
        g = f.guardian.id_number
        assert ric.validate(g) == g
        assert g not in seen
        seen.add(g)
        assert len(f.guardian.phone) == 11 and f.guardian.phone.startswith("1")


def test_names(fams) -> None:  # type: ignore[no-untyped-def]
    lengths = collections.Counter(len(c.name) for f in fams for c in f.children)
    assert set(lengths) <= {2, 3}
    assert lengths[3] > lengths[2] > 0
    surnames = collections.Counter(c.name[0] for f in fams for c in f.children)
    top = [s for s, _ in surnames.most_common(5)]
    assert {"王", "李", "张"} & set(top)


def test_multiples(fams) -> None:  # type: ignore[no-untyped-def]
    sets = [f for f in fams if len(f.children) > 1]
    assert 10 <= len(sets) <= 80  # ≈1.2% of 3000
    for f in sets:
        kids = f.children
        assert len({c.birth_date for c in kids}) == 1
        assert len({c.id_number[:6] for c in kids}) == 1
        seqs = [int(c.id_number[14:17]) for c in kids]
        for a, b, c in zip(seqs, seqs[1:], kids[1:], strict=False):
            assert 0 < b - a <= 2  # consecutive among numbers of the right parity
            assert (b % 2 == 1) == (c.sex == "M")
        assert len({c.name for c in kids}) == len(kids)
    assert any(f.bundle_multiples for f in sets)
    assert not any(f.bundle_multiples for f in fams if len(f.children) == 1)


def test_bands_choices_and_claims(city, fams) -> None:  # type: ignore[no-untyped-def]
    for f in fams:
        r = f.residence
        assert band_for(r) == f.band
        school = city.school(r.catchment_school_id)
        assert school.district_code == r.district_code
        assert any(a.street == r.street and r.community in a.communities for a in school.catchment)
        public = [c for c in f.choices if c.kind == "public"]
        private = [c for c in f.choices if c.kind == "private"]
        assert len(f.choices) >= 1
        assert len(public) <= city.max_public_choices
        assert len(private) <= city.max_private_choices
        assert [c.rank for c in private] == list(range(1, len(private) + 1))
        assert len({c.school_id for c in private}) == len(private)
        for c in public:
            assert c.school_id == r.catchment_school_id and c.pool_id is None
        for c in private:
            s = city.school(c.school_id)
            assert c.pool_id is not None
            pool = s.pool(c.pool_id)
            if not pool.boarding:
                same = s.district_code == r.district_code
                assert pool.residency == ("in_district" if same else "out_of_district")
        for claim in f.claims:
            assert claim.documents and all(d.reference for d in claim.documents)
            if claim.kind == "priority_band":
                assert claim.code == f.band
                assert claim.school_id in {c.school_id for c in public}
            else:
                assert claim.school_id in {c.school_id for c in private}
                codes = {rc.code for rc in city.school(claim.school_id).reserved}
                assert claim.code in codes
        assert 0 <= f.registration_day < city.registration_days
        assert f.registered_at.date() == city.registration_opens + datetime.timedelta(
            days=f.registration_day
        )
    assert [f.registered_at for f in fams] == sorted(f.registered_at for f in fams)
    assert any(c.kind == "reserved" for f in fams for c in f.claims)
    assert any(not c.genuine for f in fams for c in f.claims)


def test_popular_private_schools_are_oversubscribed(city, fams) -> None:  # type: ignore[no-untyped-def]
    applicants = collections.Counter(
        c.school_id for f in fams for c in f.choices if c.kind == "private" and c.rank == 1
    )
    ratios = sorted(
        applicants[s.id] / sum(p.seats for p in s.pools) for s in city.private_schools()
    )
    assert ratios[-1] >= 3.0  # the most popular school: several applicants per lottery seat
    assert ratios[0] < 1.5  # and the tail is not (or barely) oversubscribed


def test_registration_days_front_loaded(fams) -> None:  # type: ignore[no-untyped-def]
    days = collections.Counter(f.registration_day for f in fams)
    assert days[0] > days[1] > days[5]


def test_deterministic(city) -> None:  # type: ignore[no-untyped-def]
    a = families(city, 500, seed=5)
    b = families(demo_city(2026, 2026, expected_families=3000), 500, seed=5)
    assert a == b
    assert json.dumps(families_json(a), ensure_ascii=False) == json.dumps(
        families_json(b), ensure_ascii=False
    )
    assert city_json(city) == city_json(demo_city(2026, 2026, expected_families=3000))
    assert families(city, 500, seed=6) != a
    assert demo_city(7, 2026) != demo_city(8, 2026)


def test_campaign_year_shifts_age_window() -> None:
    c = demo_city(1, 2030, expected_families=200)
    fam = families(c, 200, seed=1)
    assert all(
        datetime.date(2023, 9, 1) <= k.birth_date <= datetime.date(2024, 8, 31)
        for f in fam
        for k in f.children
    )


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="expected_families"):
        demo_city(1, 2026, expected_families=0)
    with pytest.raises(ValueError, match="campaign_year"):
        demo_city(1, 1999)
    with pytest.raises(ValueError, match="n:"):
        families(demo_city(), -1, seed=1)
    with pytest.raises(ValueError, match="region"):
        ids.id_number("32021", datetime.date(2020, 1, 1), 1)


def test_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seeds", "families", "--n", "20", "--seed", "3"],
        capture_output=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert len(data) == 20 and data[0]["id"] == "F000001"
    city_out = subprocess.run(
        [sys.executable, "-m", "seeds", "city", "--seed", "3"], capture_output=True, check=True
    )
    assert json.loads(city_out.stdout)["code"] == "320200"
    bad = subprocess.run(
        [sys.executable, "-m", "seeds", "families", "--n", "-1"], capture_output=True
    )
    assert bad.returncode == 2 and b"--n" in bad.stderr and b"Traceback" not in bad.stderr


def test_cli_output_identical_across_processes() -> None:
    # No dependence on hash randomisation or anything else process-specific.
    runs = [
        subprocess.run(
            [sys.executable, "-m", "seeds", "families", "--n", "300", "--seed", "9"],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(h)},
        ).stdout
        for h in (1, 2)
    ]
    assert runs[0] == runs[1] and len(runs[0]) > 1000
