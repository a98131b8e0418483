from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from admissions.db.base import Base, UTCDateTime


class Application(Base):
    """One child's application in one campaign.

    Personal data (child, guardian, residence facts, document references, birth date, sex) lives
    only in ``personal`` (AES-256-GCM, see admissions.crypto; AAD = the application number).
    ``active_index`` is the ID number's blind index while the application is active and NULL once
    withdrawn, so the unique constraint allows one *active* application per child per campaign
    (NULLs never collide on SQLite or PostgreSQL).
    """

    __tablename__ = "applications"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "active_index"),
        sa.Index("ix_applications_campaign_district", "campaign_id", "district"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(sa.String(16), unique=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"))
    parent_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    district: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))  # active | withdrawn
    active_index: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    group_id: Mapped[str | None] = mapped_column(sa.String(20), nullable=True, index=True)
    choices: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    claims: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    personal: Mapped[bytes] = mapped_column(sa.LargeBinary)
    record_sha256: Mapped[str] = mapped_column(sa.String(64))
    review_status: Mapped[str] = mapped_column(sa.String(16))  # pending | eligible | ineligible
    review_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    appeal_status: Mapped[str] = mapped_column(sa.String(16))  # none | pending | resolved
    appeal: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)  # encrypted text
    # The log record of the latest registration/update (its entry: LogEntry.queue_id), for
    # re-issuing the family's receipt.
    log_queue_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
