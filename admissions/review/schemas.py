from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from admissions.schemas import LongText, Text

Decision = Literal["eligible", "ineligible"]


class ClaimDecision(msgspec.Struct, forbid_unknown_fields=True):
    index: Annotated[int, msgspec.Meta(ge=0, le=100)]
    decision: Decision
    reason: Text


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An officer's decision on an application and on *every* one of its claims, each with a
    reason the family will read."""

    decision: Decision
    reason: Text
    claims: Annotated[list[ClaimDecision], msgspec.Meta(max_length=10)] = []


class AppealIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: LongText
