"""A small deterministic random helper built only on ``random.Random.random()``.

Python guarantees that ``Random(seed).random()`` yields the same sequence across versions for an
integer seed (``random`` module docs, "Notes on Reproducibility"), whereas ``choice``,
``randrange`` and ``sample`` may change between releases. Everything in seeds/ therefore draws
through ``Rng``, so a given seed reproduces the same city and families on every Python version.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Rng:
    """Deterministic generator: uniform floats, integers, weighted and unweighted choice."""

    __slots__ = ("_r",)

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def random(self) -> float:
        return self._r.random()

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def below(self, n: int) -> int:
        """An integer in [0, n) (n <= 2**52, so floor(random() * n) is close enough to uniform)."""
        return min(int(self._r.random() * n), n - 1)

    def between(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi], both ends included."""
        return lo + self.below(hi - lo + 1)

    def pick(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]

    def weighted(self, items: Sequence[T], cumulative: Sequence[float]) -> T:
        """Pick with probabilities given as a cumulative weight table (see ``cumulate``)."""
        x = self._r.random() * cumulative[-1]
        return items[min(bisect.bisect_right(cumulative, x), len(items) - 1)]


def cumulate(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))
