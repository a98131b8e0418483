"""Synthetic families applying in the demo city's campaign.

Each family has one guardian, one child or a set of multiples (twins ≈1.2%, triplets ≈0.05% of
families), a home in one public school's catchment, hukou/property/residence-permit facts that
determine its priority band there, up to ``city.max_public_choices`` public choice (its catchment
school) and up to ``city.max_private_choices`` ranked private choices (Zipf-popular schools, own
district preferred), claims with document references, and a registration moment in the window.

ID numbers follow GB 11643 (see ``seeds.ids``): the registration region is the hukou district at
birth (migrant children carry their home county's code), the birth date lies in the campaign's age
window, the sequence code's parity gives the sex, and multiples share the birth date and get
consecutive sequence codes of the right parity. Every ID number is unique within one call.

``Claim.genuine`` is the ground truth for the demo's review step: a few claims are not backed by
their documents, so officers have something to reject. It is never part of what a family submits.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from seeds import ids, names
from seeds._rand import Rng, cumulate
from seeds.city import BANDS, City, School

Relation = Literal["father", "mother"]
ChoiceKind = Literal["public", "private"]
ClaimKind = Literal["priority_band", "reserved"]

_CST = datetime.timezone(datetime.timedelta(hours=8), "CST")

# Home counties of migrant (新市民) families: real GB/T 2260 codes of typical origins of Wuxi's
# migrant workers (northern Jiangsu, Anhui, Henan, Shandong), chosen among codes that have been
# valid since 1989, so a parent born 1989-1995 and a child born 2019-2020 can both carry them
# (e.g. 太和县 341222 only exists since 1996; stdnum checks a code against the birth year).
MIGRANT_ORIGINS: tuple[str, ...] = (
    "320322", "320324", "320826", "320923", "321081", "340827", "370828", "410526",
)  # fmt: skip
# Division codes valid for guardians born 1989-1995 (梁溪 and 新吴 did not exist yet; 锡山/惠山
# were 无锡县 320222 then).
_GUARDIAN_REGION: dict[str, tuple[str, ...]] = {
    "320213": ("320202", "320203", "320204"), "320205": ("320222",), "320206": ("320222",),
    "320211": ("320211",), "320214": ("320211",), "320281": ("320281",), "320282": ("320282",),
}  # fmt: skip
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "198", "199",
)  # fmt: skip
# Share of registrations per day of a 10-day window: a rush on day 1, a tail, a last-day bump.
_DAY_WEIGHTS = (30, 18, 11, 8, 6, 5, 5, 4, 5, 8)
# (hukou_property, hukou, residence_permit) shares by district: the industrial 新吴 has the most
# migrant families, the old town 梁溪 the fewest.
_BAND_SHARES: dict[str, tuple[float, float, float]] = {
    "320213": (0.62, 0.18, 0.20), "320214": (0.40, 0.12, 0.48),
}  # fmt: skip
_DEFAULT_BAND_SHARES = (0.55, 0.15, 0.30)
_PRIVATE_RATE = {"hukou_property": 0.22, "hukou": 0.17, "residence_permit": 0.10}
_TWIN_RATE = 0.012
_TRIPLET_RATE = 0.0005


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    id_number: str  # 18 characters, GB 11643
    birth_date: datetime.date
    sex: Literal["M", "F"]


@dataclass(frozen=True, slots=True)
class Guardian:
    name: str
    relation: Relation
    id_number: str
    phone: str  # 11-digit mainland mobile number


@dataclass(frozen=True, slots=True)
class Residence:
    """Where the family lives and the facts behind its public-school priority band."""

    district_code: str
    catchment_school_id: str  # the public school whose 施教区 contains the address
    street: str
    community: str
    address: str
    hukou_region: str  # six-digit division code of the household registration
    hukou_in_catchment: bool
    property_in_catchment: bool  # owner-occupied property (不动产权证书) in the catchment
    residence_permit: bool  # 居住证 of the district (only for hukou outside the catchment)
    residence_months: int  # months lived at the address


@dataclass(frozen=True, slots=True)
class Choice:
    kind: ChoiceKind
    rank: int  # 1-based rank among choices of the same kind
    school_id: str
    pool_id: str | None  # private schools: the lottery pool the child falls into


@dataclass(frozen=True, slots=True)
class Document:
    type: str  # 户口簿, 不动产权证书, 居住证, 教职工子女证明, ...
    reference: str


@dataclass(frozen=True, slots=True)
class Claim:
    kind: ClaimKind
    school_id: str
    code: str  # band code (priority_band) or reserved-category code (reserved)
    documents: tuple[Document, ...]
    genuine: bool  # ground truth for the demo's review step (not submitted)


@dataclass(frozen=True, slots=True)
class Family:
    id: str  # "F000001", in registration order
    guardian: Guardian
    children: tuple[Child, ...]  # 1 child, or 2-3 multiples
    bundle_multiples: bool  # opt-in: multiples drawn as one unit (always False for one child)
    residence: Residence
    band: str  # the priority band the facts give at the catchment school
    choices: tuple[Choice, ...]
    claims: tuple[Claim, ...]
    registration_day: int  # 0-based day of the window
    registered_at: datetime.datetime  # China Standard Time (+08:00)


@dataclass(slots=True)
class _Draft:
    guardian: Guardian
    children: tuple[Child, ...]
    bundle: bool
    residence: Residence
    band: str
    choices: list[Choice]
    claims: list[Claim]
    day: int
    at: datetime.datetime


def band_for(residence: Residence) -> str:
    """The priority band that a residence's facts give at its catchment school (BANDS order)."""
    if residence.hukou_in_catchment and residence.property_in_catchment:
        return "hukou_property"
    if residence.hukou_in_catchment:
        return "hukou"
    if residence.residence_permit:
        return "residence_permit"
    raise ValueError("residence: no priority band applies (no hukou and no residence permit)")


class _Ids:
    """Issues unique ID numbers."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def issue(
        self, rng: Rng, region: str, birth: datetime.date, sexes: list[names.Sex]
    ) -> list[str]:
        while True:
            start = rng.between(1, 990)
            seqs: list[int] = []
            nxt = start
            for sex in sexes:
                seq = ids.sequence_for(sex, nxt)
                seqs.append(seq)
                nxt = seq + 1
            out = [ids.id_number(region, birth, q) for q in seqs]
            if all(o[:17] not in self.used for o in out):
                self.used.update(o[:17] for o in out)
                return out


def _phone(rng: Rng) -> str:
    return rng.pick(_MOBILE_PREFIXES) + f"{rng.below(10**8):08d}"


def _doc_ref(rng: Rng, doc_type: str, city: City, district_code: str, school: School) -> str:
    year = city.campaign_year
    if doc_type == "户口簿":
        return f"户号{rng.below(10**9):09d}"
    if doc_type == "不动产权证书":
        place = city.district(district_code).name
        place = place if place.endswith("市") else "无锡市"
        return f"苏({rng.between(year - 12, year - 1)}){place}不动产权第{rng.below(10**7):07d}号"
    if doc_type == "居住证":
        return f"居住证{district_code}{rng.below(10**8):08d}"
    if doc_type == "租赁备案":
        return f"租赁备案{year - 1}-{rng.below(10**6):06d}"
    return f"{school.id}-{doc_type}-{year}-{rng.below(10**4):04d}"


def families(city: City, n: int, seed: int) -> list[Family]:
    """Generate ``n`` families for ``city``, deterministically from ``seed``.

    The list is in registration order (``registered_at`` ascending) and family ids follow it.
    """
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    rng = Rng(seed)
    issued = _Ids()
    districts = city.districts
    d_cum = cumulate([d.population_10k for d in districts])
    publics = {d.code: city.public_schools(d.code) for d in districts}
    p_cum = {c: cumulate([s.popularity for s in ss]) for c, ss in publics.items()}
    privates = city.private_schools()
    # Families favour private schools of their own district three to one.
    priv_cum = {
        d.code: cumulate(
            [s.popularity * (3.0 if s.district_code == d.code else 1.0) for s in privates]
        )
        for d in districts
    }
    birth_days = (city.birth_to - city.birth_from).days + 1
    window = city.registration_days
    day_weights = [_DAY_WEIGHTS[i] if i < len(_DAY_WEIGHTS) else 5 for i in range(window)]
    day_cum = cumulate(day_weights)
    day_index = list(range(window))
    band_doc = {b.code: b.documents for b in BANDS}

    drafts: list[_Draft] = []
    for _ in range(n):
        d = rng.weighted(districts, d_cum)
        school = rng.weighted(publics[d.code], p_cum[d.code])
        area = rng.pick(school.catchment)
        community = rng.pick(area.communities)
        a, b, _c = _BAND_SHARES.get(d.code, _DEFAULT_BAND_SHARES)
        x = rng.random()
        band = "hukou_property" if x < a else "hukou" if x < a + b else "residence_permit"
        local = band != "residence_permit"
        hukou_region = d.code if local else rng.pick(MIGRANT_ORIGINS)
        residence = Residence(
            district_code=d.code,
            catchment_school_id=school.id,
            street=area.street,
            community=community,
            address=f"{d.name}{area.street}{community}{rng.between(1, 40)}幢"
            f"{rng.between(1, 18)}{rng.between(1, 4):02d}室",
            hukou_region=hukou_region,
            hukou_in_catchment=local,
            property_in_catchment=band == "hukou_property",
            residence_permit=not local,
            residence_months=rng.between(12, 96) if not local else rng.between(6, 180),
        )
        # Children: birth date in the age window; the ID's region is the hukou at birth (a local
        # child's hukou was sometimes registered in another Wuxi district and moved later).
        birth = city.birth_from + datetime.timedelta(days=rng.below(birth_days))
        x = rng.random()
        count = 3 if x < _TRIPLET_RATE else 2 if x < _TRIPLET_RATE + _TWIN_RATE else 1
        sexes: list[names.Sex] = ["M" if rng.chance(0.53) else "F"]
        for _k in range(count - 1):
            sexes.append(sexes[0] if rng.chance(0.65) else ("F" if sexes[0] == "M" else "M"))
        child_region = hukou_region
        if local and rng.chance(0.1):
            child_region = rng.pick(districts).code
        numbers = issued.issue(rng, child_region, birth, sexes)
        family_name = names.surname(rng)
        kids: list[Child] = []
        for sex, number in zip(sexes, numbers, strict=True):
            if kids:
                name = names.sibling_name(rng, family_name, sex, kids[0].name)
            else:
                name = names.full_name(rng, family_name, sex)
            kids.append(Child(name, number, birth, sex))
        # Guardian: a parent aged 31-37 at the campaign (born 1989-1995 for 2026).
        relation: Relation = "father" if rng.chance(0.55) else "mother"
        g_sex: names.Sex = "M" if relation == "father" else "F"
        g_name = names.full_name(
            rng, family_name if relation == "father" else names.surname(rng), g_sex
        )
        g_birth = datetime.date(
            city.campaign_year - rng.between(31, 37), 1, 1
        ) + datetime.timedelta(days=rng.below(365))
        if not local:
            g_region = hukou_region  # the parent's hukou is the family's home county
        elif rng.chance(0.7):
            g_region = rng.pick(_GUARDIAN_REGION[d.code])
        else:  # born elsewhere, hukou moved to Wuxi later: the ID keeps the birth county
            g_region = rng.pick(MIGRANT_ORIGINS)
        (g_id,) = issued.issue(rng, g_region, g_birth, [g_sex])
        guardian = Guardian(g_name, relation, g_id, _phone(rng))

        choices: list[Choice] = []
        claims: list[Claim] = []
        if city.max_public_choices >= 1 and rng.chance(0.97):
            choices.append(Choice("public", 1, school.id, None))
            docs = tuple(
                Document(t, _doc_ref(rng, t, city, d.code, school)) for t in band_doc[band]
            )
            claims.append(Claim("priority_band", school.id, band, docs, rng.chance(0.98)))
        if privates and rng.chance(_PRIVATE_RATE[band]):
            k = 1 if rng.chance(0.45) else 2
            k = min(k, city.max_private_choices, len(privates))
            wants_boarding = rng.chance(0.1 if local else 0.3)
            picked: list[School] = []
            while len(picked) < k:
                cand = rng.weighted(privates, priv_cum[d.code])
                if cand not in picked:
                    picked.append(cand)
            for rank, s in enumerate(picked, start=1):
                pool = None
                boarding = [p for p in s.pools if p.boarding]
                if wants_boarding and boarding:
                    pool = boarding[0].id
                else:
                    want = "in_district" if s.district_code == d.code else "out_of_district"
                    pool = next(p.id for p in s.pools if p.residency == want)
                choices.append(Choice("private", rank, s.id, pool))
        if not choices:  # everyone applies somewhere: fall back to the catchment school
            choices.append(Choice("public", 1, school.id, None))
            docs = tuple(
                Document(t, _doc_ref(rng, t, city, d.code, school)) for t in band_doc[band]
            )
            claims.append(Claim("priority_band", school.id, band, docs, True))
        day = rng.weighted(day_index, day_cum)
        at = datetime.datetime.combine(
            city.registration_opens + datetime.timedelta(days=day),
            datetime.time(8, 0),
            tzinfo=_CST,
        ) + datetime.timedelta(seconds=rng.below(14 * 3600))
        drafts.append(
            _Draft(guardian, tuple(kids), count > 1 and rng.chance(0.8), residence, band,
                   choices, claims, day, at)
        )  # fmt: skip

    _reserved_claims(rng, city, drafts)
    drafts.sort(key=lambda f: (f.at, f.children[0].id_number))
    return [
        Family(
            id=f"F{i + 1:06d}",
            guardian=f.guardian,
            children=f.children,
            bundle_multiples=f.bundle,
            residence=f.residence,
            band=f.band,
            choices=tuple(f.choices),
            claims=tuple(f.claims),
            registration_day=f.day,
            registered_at=f.at,
        )
        for i, f in enumerate(drafts)
    ]


def _reserved_claims(rng: Rng, city: City, drafts: list[_Draft]) -> None:
    """Give reserved-category claims to some first-choice applicants of each private school.

    The number of claimants per category is 60-130% of its seats, so some categories are filled
    exactly, some leave seats to roll into the lottery and some must be decided among claimants.
    """
    first: dict[str, list[int]] = {}
    for i, f in enumerate(drafts):
        for c in f.choices:
            if c.kind == "private" and c.rank == 1:
                first.setdefault(c.school_id, []).append(i)
    taken: set[int] = set()
    for school in city.private_schools():
        applicants = [i for i in first.get(school.id, []) if i not in taken]
        for cat in school.reserved:
            want = min(len(applicants), round(cat.seats * (0.6 + 0.7 * rng.random())))
            for _ in range(want):
                i = applicants.pop(rng.below(len(applicants)))
                taken.add(i)
                ref = _doc_ref(rng, cat.document, city, school.district_code, school)
                drafts[i].claims.append(
                    Claim("reserved", school.id, cat.code, (Document(cat.document, ref),),
                          rng.chance(0.85))
                )  # fmt: skip
