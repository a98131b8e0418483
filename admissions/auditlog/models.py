from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from admissions.db.base import Base


class LogEntry(Base):
    """One paiwei-log/1 entry: ``entry`` holds the exact RFC 8785 bytes that are hashed."""

    __tablename__ = "log_entries"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(32))
    time: Mapped[str] = mapped_column(sa.String(20))
    entry: Mapped[bytes] = mapped_column(sa.LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)


class LogState(Base):
    """The single row (id = 1) holding the tree's right edge: size and CompactRange hashes
    (concatenated 32-byte values) and the last entry time (times never go backwards)."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    hashes: Mapped[bytes] = mapped_column(sa.LargeBinary)
    last_time: Mapped[str] = mapped_column(sa.String(20))
