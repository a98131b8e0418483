"""The demo city: Wuxi's seven county-level divisions with synthetic public and private schools.

Real: the district names and their GB/T 2260 division codes, the street (街道) and town (镇) names,
and approximate resident populations (2020 census, used only as weights). Synthetic: every school,
its plan (招生计划), catchment (施教区) communities, reserved seats and lottery pools. School names
are composed from street names and do not describe real schools.

Sizing: plans are computed for an expected number of families (``expected_families``). Public
schools get 0.8–1.4 times the expected demand of their catchment (the low end models the popular
"学区房" schools that must run a priority-band lottery), then each district is topped up so that it
can seat every child (统筹). Private schools share about 7% of the cohort, close to the ≤5–10% caps
set after 2021; with roughly one family in six applying to a Zipf-popular private school, the top
schools are oversubscribed several times over and the tail is not.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from seeds._rand import Rng

SchoolKind = Literal["public", "private"]
Residency = Literal["in_district", "out_of_district", "any"]


@dataclass(frozen=True, slots=True)
class District:
    code: str  # GB/T 2260 six-digit division code
    name: str  # 梁溪区
    name_en: str
    population_10k: int  # approximate 2020 census resident population, in 10,000s (weight only)
    streets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatchmentArea:
    """One street/town of a public school's 施教区 and the residential communities it covers."""

    street: str
    communities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PriorityBand:
    """A public-school admission band; rank 1 is served first."""

    rank: int
    code: str  # "hukou_property" | "hukou" | "residence_permit"
    name: str
    documents: tuple[str, ...]  # document types a claim to this band must reference


@dataclass(frozen=True, slots=True)
class ReservedCategory:
    """Seats of a private school filled before its lottery, for verified claimants only."""

    code: str  # "staff_child" | "sponsor_employee" | "youfu"
    name: str
    seats: int
    document: str


@dataclass(frozen=True, slots=True)
class LotteryPool:
    """A sub-lottery of a private school with its own seats (day/boarding × in/out of district)."""

    id: str  # unique within the city, e.g. "320213-M01-day-in"
    name: str
    boarding: bool
    residency: Residency
    seats: int


@dataclass(frozen=True, slots=True)
class School:
    id: str  # "320213-P01" (public) or "320213-M01" (民办 private)
    name: str
    district_code: str
    kind: SchoolKind
    plan: int  # 招生计划 = sum of reserved seats and pool seats for private schools
    catchment: tuple[CatchmentArea, ...]  # public only
    priority_bands: tuple[PriorityBand, ...]  # public only
    reserved: tuple[ReservedCategory, ...]  # private only
    pools: tuple[LotteryPool, ...]  # private only
    popularity: float  # relative weight with which families pick it (private) / demand (public)

    def pool(self, pool_id: str) -> LotteryPool:
        for p in self.pools:
            if p.id == pool_id:
                return p
        raise KeyError(f"pool {pool_id!r} is not a pool of school {self.id}")


@dataclass(frozen=True, slots=True)
class City:
    name: str
    code: str  # 320200 无锡市
    seed: int
    campaign_year: int
    stage: str  # "primary_grade1"
    age_cutoff: datetime.date  # child must be 6 years old on this date (default 31 August)
    birth_from: datetime.date  # inclusive: 1 September, year - 7
    birth_to: datetime.date  # inclusive: 31 August, year - 6
    registration_opens: datetime.date
    registration_closes: datetime.date  # inclusive
    review_deadline: datetime.date
    draw_date: datetime.date
    max_public_choices: int
    max_private_choices: int
    expected_families: int
    districts: tuple[District, ...]
    schools: tuple[School, ...]

    @property
    def registration_days(self) -> int:
        return (self.registration_closes - self.registration_opens).days + 1

    def school(self, school_id: str) -> School:
        for s in self.schools:
            if s.id == school_id:
                return s
        raise KeyError(f"no school {school_id!r}")

    def district(self, code: str) -> District:
        for d in self.districts:
            if d.code == code:
                return d
        raise KeyError(f"no district {code!r}")

    def public_schools(self, district_code: str | None = None) -> tuple[School, ...]:
        return tuple(
            s
            for s in self.schools
            if s.kind == "public" and (district_code is None or s.district_code == district_code)
        )

    def private_schools(self) -> tuple[School, ...]:
        return tuple(s for s in self.schools if s.kind == "private")


DISTRICTS: tuple[District, ...] = (
    District("320213", "梁溪区", "Liangxi", 96, (
        "崇安寺街道", "通江街道", "广瑞路街道", "上马墩街道", "江海街道", "广益街道", "黄巷街道",
        "北大街街道", "惠山街道", "金星街道", "金匮街道", "迎龙桥街道", "南禅寺街道", "清名桥街道",
        "扬名街道", "山北街道")),
    District("320205", "锡山区", "Xishan", 76, (
        "东亭街道", "安镇街道", "东北塘街道", "厚桥街道", "羊尖镇", "鹅湖镇", "锡北镇", "东港镇")),
    District("320206", "惠山区", "Huishan", 92, (
        "堰桥街道", "长安街道", "钱桥街道", "玉祁街道", "前洲街道", "洛社镇", "阳山镇")),
    District("320211", "滨湖区", "Binhu", 72, (
        "蠡园街道", "河埒街道", "荣巷街道", "蠡湖街道", "华庄街道", "太湖街道", "马山街道",
        "雪浪街道", "胡埭镇")),
    District("320214", "新吴区", "Xinwu", 76, (
        "旺庄街道", "硕放街道", "江溪街道", "新安街道", "梅村街道", "鸿山街道")),
    District("320281", "江阴市", "Jiangyin", 178, (
        "澄江街道", "南闸街道", "云亭街道", "申港街道", "夏港街道", "利港街道", "周庄镇", "华士镇",
        "新桥镇", "长泾镇", "徐霞客镇", "青阳镇", "璜土镇", "月城镇", "顾山镇", "祝塘镇")),
    District("320282", "宜兴市", "Yixing", 128, (
        "宜城街道", "屺亭街道", "新街街道", "新庄街道", "丁蜀镇", "和桥镇", "张渚镇", "周铁镇",
        "官林镇", "高塍镇")),
)  # fmt: skip

# (public schools, private schools) per district
_SCHOOL_COUNTS: dict[str, tuple[int, int]] = {
    "320213": (5, 2), "320205": (3, 1), "320206": (3, 1), "320211": (4, 2),
    "320214": (4, 2), "320281": (5, 1), "320282": (4, 1),
}  # fmt: skip

# Stems for private-school names, per district (old names and landmarks of the place).
_PRIVATE_STEMS: dict[str, tuple[str, ...]] = {
    "320213": ("梁溪", "东林"), "320205": ("锡东",), "320206": ("惠泉",),
    "320211": ("蠡湖", "太湖"), "320214": ("新吴", "江南"), "320281": ("暨阳",),
    "320282": ("阳羡",),
}  # fmt: skip
_PRIVATE_SUFFIX = ("外国语学校（小学部）", "实验学校（小学部）", "双语学校（小学部）", "书院小学")
_COMMUNITY_STEMS = (
    "运河", "锦绣", "金色", "阳光", "春江", "华府", "翠竹", "桃源", "梧桐", "紫薇", "清扬", "映月",
    "滨河", "玉兰", "香樟", "观湖", "东方", "新城", "丽景", "万和", "嘉禾", "明珠", "和平", "长江",
    "星光", "凤凰", "云林", "尚贤", "湖滨", "青山",
)  # fmt: skip
_COMMUNITY_SUFFIX = ("花园", "苑", "新村", "家园", "雅居", "名邸", "公寓", "小区", "华庭", "山庄")

BANDS: tuple[PriorityBand, ...] = (
    PriorityBand(1, "hukou_property", "户籍与房产均在施教区", ("户口簿", "不动产权证书")),
    PriorityBand(2, "hukou", "户籍在施教区（无房产）", ("户口簿",)),
    PriorityBand(
        3, "residence_permit", "新市民子女：居住证与实际居住在施教区", ("居住证", "租赁备案")
    ),
)

RESERVED_KINDS: tuple[tuple[str, str, str, float], ...] = (
    # code, name, document, share of the plan
    ("staff_child", "本校教职工子女", "教职工子女证明", 0.04),
    ("sponsor_employee", "举办者员工子女", "举办者在职证明", 0.03),
    ("youfu", "优抚对象子女（军人、烈士、消防救援人员等）", "优待证", 0.015),
)

_PRIVATE_SHARE = 0.07  # private seats as a share of the expected cohort


def _city_prefix(d: District) -> str:
    """County-level cities (江阴市, 宜兴市) name schools after themselves, districts after Wuxi."""
    return d.name if d.name.endswith("市") else f"无锡市{d.name}"


def _split(total: int, shares: list[float]) -> list[int]:
    """Largest-remainder apportionment of ``total`` by ``shares`` (deterministic ties by index)."""
    s = sum(shares)
    raw = [total * x / s for x in shares]
    base = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[: total - sum(base)]:
        base[i] += 1
    return base


def demo_city(
    seed: int = 2026, campaign_year: int = 2026, *, expected_families: int = 5000
) -> City:
    """Build the demo city deterministically from ``seed``.

    Plans are sized for ``expected_families`` (pass the same number to ``families``); the age window
    follows the default rule "6 years old by 31 August of the campaign year" (born 1 September of
    year-7 through 31 August of year-6).
    """
    if expected_families < 1:
        raise ValueError(f"expected_families: must be >= 1, got {expected_families}")
    if not 2000 <= campaign_year <= 2099:
        raise ValueError(f"campaign_year: expected 2000..2099, got {campaign_year}")
    rng = Rng(seed)
    total_pop = sum(d.population_10k for d in DISTRICTS)
    schools: list[School] = []
    used_communities: set[str] = set()
    private_specs: list[tuple[District, int]] = []

    for d in DISTRICTS:
        n_public, n_private = _SCHOOL_COUNTS[d.code]
        children = expected_families * d.population_10k / total_pop
        # Partition the district's streets among its public schools (consecutive runs).
        street_counts = _split(len(d.streets), [1.0] * n_public)
        demand = [0.6 + rng.random() for _ in range(n_public)]
        factors = [0.8 + 0.6 * rng.random() for _ in range(n_public)]
        demand_children = [children * w / sum(demand) for w in demand]
        plans = [
            max(5, round(c * f / 5) * 5) for c, f in zip(demand_children, factors, strict=True)
        ]
        # 统筹: the district as a whole must seat every child in it.
        need = max(5, round(children * 1.05 / 5) * 5)
        i = 0
        while sum(plans) < need:
            j = i % n_public
            # Top up the schools that are not the popular ones (all, if every one is popular).
            if factors[j] >= 1.0 or all(f < 1.0 for f in factors):
                plans[j] += 5
            i += 1
        start = 0
        for k in range(n_public):
            streets = d.streets[start : start + street_counts[k]]
            start += street_counts[k]
            areas = []
            for street in streets:
                comms: list[str] = []
                for _ in range(rng.between(3, 5)):
                    name = rng.pick(_COMMUNITY_STEMS) + rng.pick(_COMMUNITY_SUFFIX)
                    while name in used_communities:
                        name = rng.pick(_COMMUNITY_STEMS) + rng.pick(_COMMUNITY_SUFFIX)
                    used_communities.add(name)
                    comms.append(name)
                areas.append(CatchmentArea(street, tuple(comms)))
            stem = streets[0].removesuffix("街道").removesuffix("镇")
            ordinal = "中心小学" if k % 2 == 0 else "实验小学"
            schools.append(
                School(
                    id=f"{d.code}-P{k + 1:02d}",
                    name=f"{_city_prefix(d)}{stem}{ordinal}",
                    district_code=d.code,
                    kind="public",
                    plan=plans[k],
                    catchment=tuple(areas),
                    priority_bands=BANDS,
                    reserved=(),
                    pools=(),
                    popularity=round(demand[k], 6),
                )
            )
        private_specs.extend((d, m) for m in range(n_private))

    # Private schools: Zipf-like popularity over a random order of the schools.
    n_priv = len(private_specs)
    ranks = list(range(1, n_priv + 1))
    for i in range(n_priv - 1, 0, -1):  # Fisher-Yates with Rng
        j = rng.below(i + 1)
        ranks[i], ranks[j] = ranks[j], ranks[i]
    private_total = max(n_priv * 10, round(expected_families * _PRIVATE_SHARE))
    sizes = _split(private_total, [0.7 + 0.6 * rng.random() for _ in range(n_priv)])
    for (d, m), rank, plan in zip(private_specs, ranks, sizes, strict=True):
        stem = _PRIVATE_STEMS[d.code][m]
        sid = f"{d.code}-M{m + 1:02d}"
        reserved = tuple(
            ReservedCategory(code, name, max(1, round(plan * share)), doc)
            for code, name, doc, share in RESERVED_KINDS
            if code != "sponsor_employee" or rng.chance(0.6)
        )
        lottery_seats = plan - sum(r.seats for r in reserved)
        boarding = rng.chance(0.5)
        shares = [0.6, 0.25, 0.15] if boarding else [0.7, 0.3]
        seats = _split(lottery_seats, shares)
        pools = [
            LotteryPool(f"{sid}-day-in", "走读·本区", False, "in_district", seats[0]),
            LotteryPool(f"{sid}-day-out", "走读·外区", False, "out_of_district", seats[1]),
        ]
        if boarding:
            pools.append(LotteryPool(f"{sid}-boarding", "寄宿", True, "any", seats[2]))
        schools.append(
            School(
                id=sid,
                name=f"{_city_prefix(d)}{stem}{rng.pick(_PRIVATE_SUFFIX)}",
                district_code=d.code,
                kind="private",
                plan=plan,
                catchment=(),
                priority_bands=(),
                reserved=reserved,
                pools=tuple(pools),
                popularity=round(1.0 / rank**1.1, 6),
            )
        )

    y = campaign_year
    return City(
        name="无锡市（演示）",
        code="320200",
        seed=seed,
        campaign_year=y,
        stage="primary_grade1",
        age_cutoff=datetime.date(y, 8, 31),
        birth_from=datetime.date(y - 7, 9, 1),
        birth_to=datetime.date(y - 6, 8, 31),
        registration_opens=datetime.date(y, 5, 20),
        registration_closes=datetime.date(y, 5, 29),
        review_deadline=datetime.date(y, 6, 5),
        draw_date=datetime.date(y, 6, 12),
        max_public_choices=1,
        max_private_choices=2,
        expected_families=expected_families,
        districts=DISTRICTS,
        schools=tuple(schools),
    )
