"""Tables of the ceremony (docs/ceremony.md, "Tables").

One :class:`Draw` per campaign round (``<campaign>-private``, ``<campaign>-public``): its
instance is the union of that round's frozen rosters plus the published policy; one
:class:`DrawWitness` per witness key named in ``draw.roster``; one :class:`Offer` per vacancy
offer made down a published waitlist. Exact log-entry bytes stay in ``log_entries``; the columns
``*_seq`` point at them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from admissions.db.base import Base, UTCDateTime

DRAW_STATUSES = ("open", "drawn", "failed")
OFFER_STATUSES = ("offered", "accepted", "declined", "lapsed")


class Draw(Base):
    """One lottery draw of one campaign round, from ``draw.roster`` to ``draw.result``."""

    __tablename__ = "draws"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "round"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # the log's draw id
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    round: Mapped[str] = mapped_column(sa.String(16))  # "private" | "public"
    status: Mapped[str] = mapped_column(sa.String(16))  # DRAW_STATUSES
    mechanism: Mapped[str] = mapped_column(sa.String(32))
    tie_breaking: Mapped[str] = mapped_column(sa.String(32))
    group_policy: Mapped[str] = mapped_column(sa.String(32))
    beacon: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # the announcement
    min_reveals: Mapped[int] = mapped_column(sa.Integer)
    commit_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    reveal_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    # Families confirm their placement by this time; offers are answered within offer_hours.
    confirm_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    offer_hours: Mapped[int] = mapped_column(sa.Integer)
    # RFC 8785 paiwei-instance/1 *without* its seed (policy included); its SHA-256 is the
    # roster digest of draw.roster.
    instance: Mapped[bytes] = mapped_column(sa.LargeBinary)
    instance_sha256: Mapped[str] = mapped_column(sa.String(64))
    schools: Mapped[int] = mapped_column(sa.Integer)
    applicants: Mapped[int] = mapped_column(sa.Integer)
    roster_seq: Mapped[int] = mapped_column(sa.BigInteger)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beacon_evidence: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    beacon_value: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # hex
    beacon_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    seed: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # hex
    seed_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    # The exact result.json bytes lottery.run produced (RFC 8785 + "\n").
    result: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    result_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    result_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failure: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)

    def instance_with_seed(self) -> bytes:
        """The instance exactly as given to ``lottery.run`` (adds the logged seed)."""
        import json

        import rfc8785

        if self.seed is None:
            raise ValueError("draw has no seed yet")
        doc = json.loads(self.instance)
        doc["seed"] = self.seed
        return rfc8785.dumps(doc)


class DrawWitness(Base):
    """A witness of a draw: its verifier key (fixed in draw.roster), the account allowed to
    submit its notes, and the notes once logged."""

    __tablename__ = "draw_witnesses"
    __table_args__ = (sa.UniqueConstraint("draw_id", "account_id"),)

    draw_id: Mapped[str] = mapped_column(sa.ForeignKey("draws.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # 8 hex, note key ID
    vkey: Mapped[str] = mapped_column(sa.String(300))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    commit_note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    commitment: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    commit_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    reveal_note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    secret: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # hex, once revealed
    reveal_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


class Offer(Base):
    """A vacant seat offered to the next applicant on a draw's published waitlist."""

    __tablename__ = "offers"
    __table_args__ = (sa.UniqueConstraint("draw_id", "seat", "application_number"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    draw_id: Mapped[str] = mapped_column(sa.ForeignKey("draws.id"))
    seat: Mapped[str] = mapped_column(sa.String(64))  # lottery school id: S/pool or public S
    application_number: Mapped[str] = mapped_column(sa.String(16))
    position: Mapped[int] = mapped_column(sa.Integer)  # 0-based index in the waitlist
    status: Mapped[str] = mapped_column(sa.String(16))  # OFFER_STATUSES
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    offer_seq: Mapped[int] = mapped_column(sa.BigInteger)
    response_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
