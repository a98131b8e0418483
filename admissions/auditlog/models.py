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
    # The queued record this entry was sequenced from (NULL for direct appends).
    queue_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True, unique=True)


class LogQueue(Base):
    """A log record written in the same transaction as its state change, waiting for the
    sequencer to give it a seq, a time and a place in the tree (Trillian's queue/sequencer)."""

    __tablename__ = "log_queue"
    # Queue ids are referenced from log_entries: SQLite must never reuse a deleted one.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy reads it)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)  # RFC 8785 JSON object


class LogState(Base):
    """The single row (id = 1) holding the tree's right edge: size and CompactRange hashes
    (concatenated 32-byte values) and the last entry time (times never go backwards)."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    hashes: Mapped[bytes] = mapped_column(sa.LargeBinary)
    last_time: Mapped[str] = mapped_column(sa.String(20))
