"""Declarative base with a constraint naming convention (stable Alembic diffs) and UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores naive UTC (portable across SQLite and PostgreSQL), returns aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def import_models() -> None:
    """Import every domain's models so ``Base.metadata`` is complete (Alembic, tests)."""
    from admissions.accounts import models as _a  # noqa: F401
    from admissions.applications import models as _ap  # noqa: F401
    from admissions.auditlog import models as _l  # noqa: F401
    from admissions.campaigns import models as _c  # noqa: F401
    from admissions.ceremony import models as _cer  # noqa: F401
    from admissions.publication import models as _p  # noqa: F401
    from admissions.schools import models as _s  # noqa: F401
