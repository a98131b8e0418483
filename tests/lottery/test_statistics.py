"""Statistical test: one oversubscribed school admits each applicant with probability c/n.

Deterministic: the seeds are SHA-256 of a fixed label and the draw index, so the test always
computes the same statistic (recorded p-values are far from the threshold)."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from scipy.stats import chisquare

import lottery

N_APPLICANTS = 12
CAPACITY = 4
DRAWS = 3000


@pytest.mark.parametrize("tie_breaking", ["single", "multiple"])
@pytest.mark.parametrize("mechanism", ["deferred-acceptance", "preference-rounds"])
def test_single_school_admits_uniformly(tie_breaking: str, mechanism: str) -> None:
    counts = [0] * N_APPLICANTS
    rank_counts = [[0] * N_APPLICANTS for _ in range(CAPACITY)]
    ids = [f"child-{i:02d}" for i in range(N_APPLICANTS)]
    base = {
        "format": "paiwei-instance/1",
        "mechanism": mechanism,
        "tie_breaking": tie_breaking,
        "group_policy": "all-or-none",
        "schools": [{"id": "only", "capacity": CAPACITY}],
        "applicants": [{"id": a, "choices": ["only"]} for a in ids],
    }
    for d in range(DRAWS):
        seed = hashlib.sha256(f"paiwei chi-square {d}".encode()).hexdigest()
        inst = lottery.parse_instance(orjson.dumps({**base, "seed": seed}))
        admitted = lottery.draw(inst).schools["only"].admitted
        assert len(admitted) == CAPACITY
        for r, a in enumerate(admitted):
            i = ids.index(a)
            counts[i] += 1
            rank_counts[r][i] += 1
    expected = DRAWS * CAPACITY / N_APPLICANTS
    assert sum(counts) == DRAWS * CAPACITY
    # H0: P(admitted) = c/n for everyone.  alpha = 0.001 with a fixed seed sequence.
    assert chisquare(counts, [expected] * N_APPLICANTS).pvalue > 0.001
    # and each admitted rank (first seat, second seat, ...) is uniform over applicants too
    for row in rank_counts:
        assert chisquare(row).pvalue > 0.001
