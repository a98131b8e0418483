"""From the seeds city and families to the service's request bodies (pure; no I/O).

The mapping follows docs/seeds.md, "Mapping to the registration API":

- A seeds ``School`` becomes a ``SchoolIn``: the school id is the school code, the district's
  GB/T 2260 code is the district code, each catchment community (unique in the city) is one
  catchment code, private pools keep their ids as pool codes, reserved categories keep their codes.
- Priority bands: seeds ranks 1 (served first) .. k; the service serves a *higher* rank first, so
  the service rank is ``k + 1 - seeds rank``.
- One application per child; the family's guardian, residence facts, choices and claims go into
  each of them; a claim's ``genuine`` flag (the officers' ground truth) is never sent.
- Documents are sent as ``"<type> <reference>"`` strings.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from seeds.city import City, School
from seeds.families import Child, Family

CST = timezone(timedelta(hours=8), "CST")


def campaign_body(city: City) -> dict[str, Any]:
    """The campaign: the registration window is the city's (inclusive days, China time), closing
    at 00:00 the day after the last day; review ends 17:00 on the city's review deadline."""
    opens = datetime.combine(city.registration_opens, time(0, 0), CST)
    closes = datetime.combine(city.registration_closes + timedelta(days=1), time(0, 0), CST)
    review = datetime.combine(city.review_deadline, time(17, 0), CST)
    return {
        "name": f"{city.name}{city.campaign_year}年小学一年级招生",
        "year": city.campaign_year,
        "region": city.code,
        "stage": "primary",
        "open_at": opens.isoformat(),
        "close_at": closes.isoformat(),
        "review_deadline": review.isoformat(),
        "rules": {
            "max_public": city.max_public_choices,
            "max_private": city.max_private_choices,
            "min_age": 6,
            "max_deferral_years": 1,
            "cutoff_month": city.age_cutoff.month,
            "cutoff_day": city.age_cutoff.day,
        },
    }


def school_body(school: School) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": school.id,
        "name": school.name,
        "district": school.district_code,
        "kind": school.kind,
        "plan": school.plan,
    }
    if school.kind == "public":
        top = max((b.rank for b in school.priority_bands), default=0)
        body["catchments"] = [m for area in school.catchment for m in area.communities]
        body["bands"] = [
            {"code": b.code, "label": b.name, "rank": top + 1 - b.rank}
            for b in school.priority_bands
        ]
    else:
        body["reserved"] = [{"category": r.code, "seats": r.seats} for r in school.reserved]
        body["pools"] = [{"code": p.id, "name": p.name, "seats": p.seats} for p in school.pools]
    return body


def application_body(family: Family, child: Child, bundle_with: str | None) -> dict[str, Any]:
    r = family.residence
    public = next((c.school_id for c in family.choices if c.kind == "public"), None)
    private = sorted((c for c in family.choices if c.kind == "private"), key=lambda c: c.rank)
    body: dict[str, Any] = {
        "child": {"name": child.name, "id_number": child.id_number},
        "guardian": {
            "name": family.guardian.name,
            "phone": family.guardian.phone,
            "relation": family.guardian.relation,
        },
        "district": r.district_code,
        "facts": {
            "hukou_district": r.hukou_region,
            "catchment": r.community,
            "hukou_in_catchment": r.hukou_in_catchment,
            "property_in_catchment": r.property_in_catchment,
            "residence_permit": r.residence_permit,
            "address": r.address,
        },
        "choices": {
            "public": public,
            "private": [{"school": c.school_id, "pool": c.pool_id} for c in private],
        },
        "claims": [
            {
                "kind": "band" if c.kind == "priority_band" else "reserved",
                "school": c.school_id,
                "code": c.code,
                "documents": [f"{d.type} {d.reference}" for d in c.documents],
            }
            for c in family.claims
        ],
    }
    if bundle_with is not None:
        body["bundle_with"] = bundle_with
    return body


def review_body(family: Family) -> dict[str, Any]:
    """What an officer decides after checking the documents: the application is eligible (the
    seeds' children all meet the age rule); each claim is eligible exactly when it is genuine.
    The claims are in the order they were submitted (``application_body``)."""
    return {
        "decision": "eligible",
        "reason": "材料齐全，符合入学条件",
        "claims": [
            {
                "index": i,
                "decision": "eligible" if c.genuine else "ineligible",
                "reason": "证明材料核验通过" if c.genuine else "证明材料与登记信息不符",
            }
            for i, c in enumerate(family.claims)
        ],
    }
