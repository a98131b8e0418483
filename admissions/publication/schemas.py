"""Wire types of the publication routes (msgspec; separate from the ORM models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from admissions.campaigns.schemas import CampaignOut

ApplicationNumber = Annotated[
    str,
    msgspec.Meta(min_length=14, max_length=14, pattern=r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"),
]
Last4 = Annotated[str, msgspec.Meta(min_length=4, max_length=4, pattern=r"^[0-9Xx]{4}$")]
SignedNote = Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]


class LookupIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A family's lookup: its application number and one second factor -- the last four
    characters of the guardian's phone number (``kind="phone"``) or of the child's ID number
    (``kind="id_number"``)."""

    application: ApplicationNumber
    kind: Literal["phone", "id_number"]
    last4: Last4


TestName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+(?!\n)$")]


class PublishIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Publish although the fairness check flagged (docs/fairness.md, "What a flag means"): the
    officer names exactly the flagged tests and says what the investigation found. Both enter
    the public log with the publication entry, so the reason must hold no personal data."""

    acknowledge_flags: Annotated[list[TestName], msgspec.Meta(min_length=1, max_length=20)]
    reason: Annotated[str, msgspec.Meta(min_length=20, max_length=500)]


class CosignIn(msgspec.Struct, forbid_unknown_fields=True):
    """The publication checkpoint with the notary's cosignature line(s) added (the output of
    ``paiwei-audit cosign``)."""

    checkpoint: SignedNote


class CosignOut(msgspec.Struct):
    size: int
    root: str
    accepted: list[str]  # cosigner names newly stored
    cosigners: list[str]  # every cosigner on file for this checkpoint


class PublicationOut(msgspec.Struct):
    campaign: CampaignOut
    published_at: datetime
    log_seq: int
    log_size: int
    checkpoint: str
    draws: list[str]
    fairness_flagged: bool
    schools: int
    results: int


class SchoolSummary(msgspec.Struct):
    school: str
    name: str
    district: str
    kind: str
    seats: int
    applicants: int
    admitted: int
    waitlist: int
    cutoffs: dict[str, Any]


class ResultsOut(msgspec.Struct):
    campaign: str
    published_at: datetime
    log_size: int
    draws: list[str]
    schools: list[SchoolSummary]
