"""Tables of the publication (docs/publication.md).

- ``publications``: one row per published campaign: when, the log entry that published it, the
  log size and signed checkpoint at that moment (what notaries cosign), the fairness report.
- ``published_schools``: the per-school public tables (RFC 8785 JSON), frozen at publication.
- ``published_results``: per application, its public result (JSON) and keyed hashes of the two
  accepted second factors (never the factors themselves).
- ``checkpoint_cosignatures``: witnesses'/notaries' cosignature lines on a checkpoint.
- ``lookup_throttle``: failed family lookups per key (application number, client), persisted so
  the limit holds across workers and restarts (STYLE: RateLimitConfig counts per process).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from admissions.db.base import Base, UTCDateTime


class Publication(Base):
    __tablename__ = "publications"

    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    log_seq: Mapped[int] = mapped_column(sa.BigInteger)
    log_size: Mapped[int] = mapped_column(sa.BigInteger)
    checkpoint: Mapped[str] = mapped_column(sa.Text)
    fairness: Mapped[bytes] = mapped_column(sa.LargeBinary)
    fairness_flagged: Mapped[bool] = mapped_column(sa.Boolean)
    draws: Mapped[list[str]] = mapped_column(sa.JSON)


class PublishedSchool(Base):
    __tablename__ = "published_schools"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class PublishedResult(Base):
    __tablename__ = "published_results"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "application_number"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    application_number: Mapped[str] = mapped_column(sa.String(16), index=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    phone_check: Mapped[str] = mapped_column(sa.String(64))
    id_check: Mapped[str] = mapped_column(sa.String(64))


class CheckpointCosignature(Base):
    __tablename__ = "checkpoint_cosignatures"
    __table_args__ = (sa.UniqueConstraint("size", "root", "key_name", "key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    root: Mapped[str] = mapped_column(sa.String(64))
    key_name: Mapped[str] = mapped_column(sa.String(200))
    key_id: Mapped[str] = mapped_column(sa.String(8))
    line: Mapped[str] = mapped_column(sa.Text)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LookupThrottle(Base):
    __tablename__ = "lookup_throttle"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
