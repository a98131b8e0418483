"""Hypothesis strategies for valid paiwei-instance/1 values."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

IDS = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=4)


@st.composite
def instances(
    draw: st.DrawFn,
    *,
    max_schools: int = 5,
    max_applicants: int = 12,
    groups: bool = True,
    priorities: bool = True,
    ids: st.SearchStrategy[str] = IDS,
) -> dict[str, Any]:
    n_s = draw(st.integers(1, max_schools))
    school_ids = draw(st.lists(ids, min_size=n_s, max_size=n_s, unique=True))
    schools = [{"id": s, "capacity": draw(st.integers(0, 4))} for s in school_ids]
    n_a = draw(st.integers(0, max_applicants))
    app_ids = draw(st.lists(ids.map(lambda s: "a" + s), min_size=n_a, max_size=n_a, unique=True))
    applicants: list[dict[str, Any]] = []
    i = 0
    g = 0
    while i < n_a:
        choices = draw(st.lists(st.sampled_from(school_ids), min_size=1, max_size=n_s, unique=True))
        size = draw(st.integers(2, 3)) if groups and draw(st.booleans()) and i + 1 < n_a else 1
        size = min(size, n_a - i)
        gid = f"g{g}" if size > 1 else None
        g += size > 1
        for m in range(size):
            a: dict[str, Any] = {"id": app_ids[i + m], "choices": choices}
            if priorities and draw(st.booleans()):
                a["priority"] = {
                    s: draw(st.integers(-2, 2))
                    for s in draw(st.lists(st.sampled_from(school_ids), max_size=2, unique=True))
                }
            if gid is not None:
                a["group"] = gid
            elif draw(st.booleans()):
                a["group"] = None
            applicants.append(a)
        i += size
    return {
        "format": "paiwei-instance/1",
        "seed": draw(st.binary(min_size=32, max_size=32)).hex(),
        "mechanism": draw(st.sampled_from(["deferred-acceptance", "preference-rounds"])),
        "tie_breaking": draw(st.sampled_from(["single", "multiple"])),
        "group_policy": draw(st.sampled_from(["all-or-none", "admit-together"])),
        "schools": schools,
        "applicants": applicants,
    }
