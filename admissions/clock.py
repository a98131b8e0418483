"""The injectable clock: the service never calls ``datetime.now`` directly, so tests move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FakeClock:
    """A settable clock for tests and the demo: ``clock.set(dt)``, ``clock.advance(seconds=..)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


def rfc3339(dt: datetime) -> str:
    """UTC, second precision, ``Z`` suffix: the log's time format (e.g. 2026-06-01T08:00:00Z)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
