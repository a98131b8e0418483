"""The demo's service process: the ordinary app with a clock the demo driver moves.

The demo replays a whole campaign (weeks of registration, review and the ceremony) in minutes, so
the service runs on a *demo clock*: the driver writes an RFC 3339 time to a file and the service
reads it (``FileClock``) whenever the file changes. Everything else is the production app
(``admissions.app.create_app`` with settings from ``PAIWEI_*``), served by uvicorn on 127.0.0.1.

    PAIWEI_DEMO_CLOCK_FILE=/path/clock uvicorn admissions.demo.server:app_factory --factory
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from admissions.settings import Settings, SettingsError


class FileClock:
    """A clock whose time is the content of a file (RFC 3339), re-read when the file changes.

    The driver replaces the file atomically (write + rename), so a reader sees either the old or
    the new time; a stat per call (a few microseconds) detects the change.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._key: tuple[int, int, int] | None = None
        self._now: datetime | None = None
        self()  # fail at start-up, not on the first request, if the file is missing or bad

    def __call__(self) -> datetime:
        st = os.stat(self.path)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._key or self._now is None:
            text = self.path.read_text("ascii").strip()
            now = datetime.fromisoformat(text)
            if now.tzinfo is None:
                raise SettingsError(f"PAIWEI_DEMO_CLOCK_FILE: {self.path} holds a naive time")
            self._now, self._key = now, key
        return self._now


def write_clock(path: str | os.PathLike[str], now: datetime) -> None:
    """Set the demo clock (atomic replace)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(now.isoformat(), "ascii")
    os.replace(tmp, p)


def app_factory() -> Any:
    """uvicorn ``--factory`` entry point for the demo's service process."""
    from admissions.app import create_app

    path = os.environ.get("PAIWEI_DEMO_CLOCK_FILE")
    if not path:
        raise SettingsError("PAIWEI_DEMO_CLOCK_FILE: not set")
    return create_app(Settings.from_env(), FileClock(path))
