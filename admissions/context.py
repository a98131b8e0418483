"""What services need besides a session: settings, the clock, the cipher and the password hasher.

Built once per app by :func:`make_context`; tests and the ceremony/demo code build their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from admissions.clock import Clock, system_clock
from admissions.crypto import DataCipher, blind_index
from admissions.settings import Settings


@dataclass(frozen=True)
class Principal:
    """The authenticated caller (built from the access token's claims, no database read)."""

    id: int
    role: str
    district: str | None = None

    @property
    def actor(self) -> str:
        # Log actor: role and numeric id only (usernames may be phone numbers: personal data).
        return f"{self.role}#{self.id}"


SYSTEM = Principal(id=0, role="system")


@dataclass(frozen=True)
class Context:
    settings: Settings
    clock: Clock
    cipher: DataCipher
    hasher: PasswordHasher
    # Schools of campaigns that left ``draft`` (immutable from then on), by campaign id.
    schools_cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    def blind(self, id_number: str) -> str:
        return blind_index(self.settings.blind_index_key, id_number)


def make_context(settings: Settings, clock: Clock | None = None) -> Context:
    return Context(
        settings=settings,
        clock=clock or system_clock,
        cipher=DataCipher(settings.data_keys, settings.active_data_key),
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        ),
    )
