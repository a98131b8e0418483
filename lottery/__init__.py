"""paiwei's lottery engine: a frozen roster and a 32-byte seed in, admissions out.

Pure: no I/O, clock or global random state.  The algorithm is the public contract
paiwei-lottery/1 in docs/lottery-spec.md.
"""

from lottery.canonical import canonical_json
from lottery.engine import Placement, Result, SchoolOutcome, draw, result_bytes, run
from lottery.errors import InvalidInstance, LotteryError
from lottery.model import Applicant, Instance, School, parse_instance
from lottery.simulate import Chances, SchoolFill, Simulation, simulate, simulation_seed
from lottery.ticket import ticket

__all__ = [
    "Applicant",
    "Chances",
    "Instance",
    "InvalidInstance",
    "LotteryError",
    "Placement",
    "Result",
    "School",
    "SchoolFill",
    "SchoolOutcome",
    "Simulation",
    "canonical_json",
    "draw",
    "parse_instance",
    "result_bytes",
    "run",
    "simulate",
    "simulation_seed",
    "ticket",
]
