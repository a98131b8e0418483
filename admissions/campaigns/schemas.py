from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from admissions.schemas import Text

AwareDT = Annotated[datetime, msgspec.Meta(tz=True)]
Phase = Literal["draft", "open", "closed", "reviewed", "frozen", "drawn", "published", "archived"]


class Rules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Campaign rules. Defaults follow common practice (china-practice.md §1.2-1.3)."""

    max_public: Annotated[int, msgspec.Meta(ge=0, le=1)] = 1
    max_private: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    # Age rule: at least ``min_age`` years old on the cut-off day (month-day) of the campaign year,
    # and younger than ``min_age + max_deferral_years + 1`` (deferral by a year is allowed by law).
    min_age: Annotated[int, msgspec.Meta(ge=3, le=15)] = 6
    max_deferral_years: Annotated[int, msgspec.Meta(ge=0, le=3)] = 1
    cutoff_month: Annotated[int, msgspec.Meta(ge=1, le=12)] = 8
    cutoff_day: Annotated[int, msgspec.Meta(ge=1, le=31)] = 31


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text
    year: Annotated[int, msgspec.Meta(ge=2000, le=2100)]
    region: Text
    stage: Literal["primary", "junior"]
    open_at: AwareDT
    close_at: AwareDT
    review_deadline: AwareDT
    rules: Rules = msgspec.field(default_factory=Rules)


class PhaseIn(msgspec.Struct, forbid_unknown_fields=True):
    to: Literal["open", "closed", "reviewed"]


class CampaignOut(msgspec.Struct):
    id: str
    name: str
    year: int
    region: str
    stage: str
    phase: str
    open_at: datetime
    close_at: datetime
    review_deadline: datetime
    rules: Rules
    log_seq: int | None = None


class RosterOut(msgspec.Struct):
    id: str
    round: str
    sha256: str
    schools: int
    applicants: int


class FreezeOut(msgspec.Struct):
    campaign: CampaignOut
    rosters: list[RosterOut]
    placed_without_lottery: int
    log_seq: int
