"""Monte Carlo estimates of admission chances (docs/lottery-spec.md, "Simulation").

Draw ``i`` (0-based) reruns the instance's mechanism with the seed
``HMAC-SHA256(key=instance seed, msg=utf8("paiwei-simulate/1") || 0x00 || uint64_be(i))``,
so a simulation is as reproducible as the draw itself and never reveals the real draw's tickets
(the real draw uses the instance seed itself, which is not in that sequence).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lottery._gc import paused_gc
from lottery.columns import columns_of
from lottery.engine import _assign, _Units
from lottery.errors import LotteryError
from lottery.model import Instance

SIMULATE_LABEL = b"paiwei-simulate/1\x00"
MAX_DRAWS = 1_000_000


def simulation_seed(seed: bytes, i: int) -> bytes:
    """The seed of simulated draw ``i`` (0 <= i < 2**64)."""
    return hmac.digest(seed, SIMULATE_LABEL + i.to_bytes(8, "big"), "sha256")


@dataclass(frozen=True, slots=True)
class SchoolFill:
    """Seats filled per draw at one school (admit-together may exceed ``capacity``)."""

    capacity: int
    mean: float
    minimum: int
    maximum: int
    full: float  # fraction of draws in which filled >= capacity


@dataclass(frozen=True, slots=True)
class Chances:
    """One applicant's estimated probability of admission at each choice (same order as the
    applicant's ``choices``) and of remaining unplaced."""

    choices: tuple[str, ...]
    probability: tuple[float, ...]
    unplaced: float


@dataclass(frozen=True, slots=True)
class Simulation:
    """The report of ``simulate``."""

    draws: int
    schools: Mapping[str, SchoolFill]
    applicants: Mapping[str, Chances]

    def to_json(self) -> dict[str, object]:
        """JSON value (format "paiwei-simulation/1"; probabilities are plain floats)."""
        return {
            "format": "paiwei-simulation/1",
            "draws": self.draws,
            "seed_derivation": "HMAC-SHA256(seed, 'paiwei-simulate/1' || 0x00 || uint64_be(i))",
            "schools": {
                s: {
                    "capacity": f.capacity,
                    "mean_filled": f.mean,
                    "min_filled": f.minimum,
                    "max_filled": f.maximum,
                    "p_full": f.full,
                }
                for s, f in self.schools.items()
            },
            "applicants": {
                a: {
                    "choices": [
                        {"school": s, "p": p} for s, p in zip(c.choices, c.probability, strict=True)
                    ],
                    "p_unplaced": c.unplaced,
                }
                for a, c in self.applicants.items()
            },
        }


def simulate(instance: Instance, draws: int) -> Simulation:
    """Run ``draws`` independent draws of ``instance`` with derived seeds and tally outcomes."""
    if type(draws) is not int or not 1 <= draws <= MAX_DRAWS:
        raise LotteryError(f"draws: must be an integer in [1, {MAX_DRAWS}], got {draws!r}")
    cols = columns_of(instance)
    units = _Units(cols)
    n_s = len(units.school_ids)
    choices = units.choices
    hits = [[0] * len(ch) for ch in choices]
    filled_sum = [0] * n_s
    filled_min = [-1] * n_s
    filled_max = [0] * n_s
    full = [0] * n_s
    caps = [s.capacity for s in instance.schools]
    for i in range(draws):
        with paused_gc():
            orders, placed_k, admitted = _assign(cols, units, simulation_seed(instance.seed, i))
        placed = placed_k >= 0
        for u, k in zip(np.flatnonzero(placed).tolist(), placed_k[placed].tolist(), strict=True):
            hits[u][k] += 1
        fills = np.bincount(
            orders.g_school[admitted], weights=orders.g_size[admitted], minlength=n_s
        )
        for s, f in enumerate(fills.astype(np.int64).tolist()):
            filled_sum[s] += f
            filled_min[s] = f if filled_min[s] < 0 else min(filled_min[s], f)
            filled_max[s] = max(filled_max[s], f)
            full[s] += f >= caps[s]
    schools = {
        sid: SchoolFill(
            caps[s], filled_sum[s] / draws, filled_min[s], filled_max[s], full[s] / draws
        )
        for s, sid in enumerate(units.school_ids)
    }
    chances: dict[str, Chances] = {}
    for a, u in zip(instance.applicants, units.unit_of.tolist(), strict=True):
        aid = a.id
        probs = tuple(h / draws for h in hits[u])
        chances[aid] = Chances(
            tuple(units.school_ids[s] for s in choices[u]),
            probs,
            (draws - sum(hits[u])) / draws,
        )
    return Simulation(draws, schools, chances)


def format_table(sim: Simulation) -> str:
    """A plain-text report: school fill, then each applicant's chances per choice."""
    lines = [
        f"{sim.draws} simulated draws",
        "",
        "school            capacity  mean filled  min  max  P(full)",
    ]
    for sid, f in sim.schools.items():
        lines.append(
            f"{sid:<17} {f.capacity:>8}  {f.mean:>11.2f}  {f.minimum:>3}  {f.maximum:>3}"
            f"  {f.full:>7.3f}"
        )
    lines += ["", "applicant         P(choice 1, 2, ...)                         P(unplaced)"]
    for aid, c in sim.applicants.items():
        per = "  ".join(f"{s}:{p:.3f}" for s, p in zip(c.choices, c.probability, strict=True))
        lines.append(f"{aid:<17} {per:<43} {c.unplaced:.3f}")
    return "\n".join(lines) + "\n"
