"""A validated instance as columns: the form the engine reads.

``Instance`` (typed, frozen, one ``Applicant`` tuple per applicant) is the public API; the engine
only needs flat arrays, and the command line builds them straight from the decoded JSON
(``lottery._fast``) without ever making the 1M ``Applicant`` tuples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from lottery.model import Instance


@dataclass(slots=True)
class Columns:
    """The instance's content, applicants in instance order.

    ``app_flat`` holds the school index (into ``school_ids``) of every choice, applicant after
    applicant; ``app_nch`` the number of choices of each applicant.  ``prio_app``,
    ``prio_school`` and ``prio_value`` list every listed priority (applicant index, school
    index, value); ``groups`` lists (applicant index, group id) for applicants in a group.
    """

    seed: bytes
    mechanism: str
    tie_breaking: str
    group_policy: str
    school_ids: list[str]
    capacities: np.ndarray
    app_ids: list[str]
    app_nch: np.ndarray
    app_flat: np.ndarray
    prio_app: np.ndarray
    prio_school: np.ndarray
    prio_value: np.ndarray
    groups: list[tuple[int, str]]
    bmp_ids: bool  # every id is in the Basic Multilingual Plane (see lottery.canonical)


def columns_of(inst: Instance) -> Columns:
    """The columns of a validated ``Instance``."""
    sidx = {s.id: i for i, s in enumerate(inst.schools)}
    apps = inst.applicants
    nch = np.fromiter((len(a.choices) for a in apps), dtype=np.int64, count=len(apps))
    flat = np.fromiter(
        map(sidx.__getitem__, itertools.chain.from_iterable(a.choices for a in apps)),
        dtype=np.int64,
        count=int(nch.sum()),
    )
    return Columns(
        seed=inst.seed,
        mechanism=inst.mechanism,
        tie_breaking=inst.tie_breaking,
        group_policy=inst.group_policy,
        school_ids=[s.id for s in inst.schools],
        capacities=np.fromiter(
            (s.capacity for s in inst.schools), dtype=np.int64, count=len(inst.schools)
        ),
        app_ids=[a.id for a in apps],
        app_nch=nch,
        app_flat=flat,
        prio_app=np.array([i for i, a in enumerate(apps) for _ in a.priority], dtype=np.int64),
        prio_school=np.array([sidx[s] for a in apps for s, _ in a.priority], dtype=np.int64),
        prio_value=np.array([p for a in apps for _, p in a.priority], dtype=np.int64),
        groups=[(i, a.group) for i, a in enumerate(apps) if a.group is not None],
        bmp_ids=inst.bmp_ids,
    )
