"""paiwei's lottery engine: a frozen roster and a 32-byte seed in, admissions out.

Pure: no I/O, clock or global random state.  The algorithm is the public contract
paiwei-lottery/1 in docs/lottery-spec.md.
"""

from lottery.canonical import canonical_json
from lottery.engine import Placement, Result, SchoolOutcome, draw, result_bytes, run
from lottery.errors import InvalidInstance, LotteryError
from lottery.model import Applicant, Instance, School, parse_instance
from lottery.ticket import ticket

__all__ = [
    "Applicant",
    "Instance",
    "InvalidInstance",
    "LotteryError",
    "Placement",
    "Result",
    "School",
    "SchoolOutcome",
    "canonical_json",
    "draw",
    "parse_instance",
    "result_bytes",
    "run",
    "ticket",
]
