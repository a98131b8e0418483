from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from admissions.db.base import Base


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    district: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(16))  # public | private
    plan: Mapped[int] = mapped_column(sa.Integer)
    # private: [{"category", "seats"}] and [{"code", "name", "seats"}]
    reserved: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    pools: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    # public: catchment area names and priority bands [{"code", "label", "rank"}]
    catchments: Mapped[list[str]] = mapped_column(sa.JSON)
    bands: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
