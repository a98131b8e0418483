from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from admissions.db.base import Base, UTCDateTime

PHASES = ("draft", "open", "closed", "reviewed", "frozen", "drawn", "published", "archived")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    year: Mapped[int] = mapped_column(sa.Integer)
    region: Mapped[str] = mapped_column(sa.String(64))
    stage: Mapped[str] = mapped_column(sa.String(16))
    phase: Mapped[str] = mapped_column(sa.String(16))
    open_at: Mapped[datetime] = mapped_column(UTCDateTime())
    close_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    rules: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Roster(Base):
    """A frozen lottery roster: a paiwei-instance/1 document *without* its seed (and without the
    policy members the ceremony fixes in draw.roster), stored as RFC 8785 bytes."""

    __tablename__ = "rosters"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    round: Mapped[str] = mapped_column(sa.String(16))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    schools: Mapped[int] = mapped_column(sa.Integer)
    applicants: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


PLACEMENT_STATUSES = ("placed", "confirmed", "declined", "lapsed", "released")


class Placement(Base):
    """An admission decided without a lottery at freeze (reserved seat, undersubscribed pool);
    the ceremony adds lottery placements here too (basis "lottery", "waitlist").

    ``status``: placed (awaiting the family's confirmation) -> confirmed | declined | lapsed (no
    answer by the draw's confirm deadline) | released (the family took a waitlist offer in the
    other round). Only placed and confirmed rows hold a seat."""

    __tablename__ = "placements"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "application_number", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    application_number: Mapped[str] = mapped_column(sa.String(16))
    round: Mapped[str] = mapped_column(sa.String(16))
    school_code: Mapped[str] = mapped_column(sa.String(32))
    pool_code: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    basis: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16), default="placed", server_default="placed")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
