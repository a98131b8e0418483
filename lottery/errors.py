"""The lottery package's exception hierarchy (one root, translated by callers at their edge)."""

from __future__ import annotations


class LotteryError(Exception):
    """Root of every error the lottery engine raises on purpose."""


class InvalidInstance(LotteryError):
    """The instance does not satisfy paiwei-instance/1.

    ``str()`` is one line that names the offending field (a JSON path such as
    ``applicants[3].choices[1]``) or id, then the problem.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
