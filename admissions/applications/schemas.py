from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from admissions.schemas import Code, Text

Name = Annotated[
    str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f0-9]+(?!\n)$")
]
IdNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9]{6,20}(?!\n)$")]
Document = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+(?!\n)$")
]
Number = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class Child(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    id_number: IdNumber  # GB 11643-1999, validated (check digit, birth date) by the service


class Guardian(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    phone: Phone
    relation: Literal["father", "mother", "grandparent", "other"]


class Facts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Hukou and residence facts, checked by officers against documents during review."""

    hukou_district: Code
    catchment: Code | None = None  # the 施教区 the family lives in (needed for a public choice)
    hukou_in_catchment: bool = False
    property_in_catchment: bool = False
    residence_permit: bool = False
    address: Text


class PrivateChoice(msgspec.Struct, forbid_unknown_fields=True):
    school: Code
    pool: Code


class Choices(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    public: Code | None = None
    private: Annotated[list[PrivateChoice], msgspec.Meta(max_length=5)] = []


class ClaimIn(msgspec.Struct, forbid_unknown_fields=True):
    """A claim to a private school's reserved category or a public school's priority band."""

    kind: Literal["reserved", "band"]
    school: Code
    code: Code
    documents: Annotated[list[Document], msgspec.Meta(min_length=1, max_length=5)]


class ApplicationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    child: Child
    guardian: Guardian
    district: Code  # district of residence: decides which officers review it
    facts: Facts
    choices: Choices
    claims: Annotated[list[ClaimIn], msgspec.Meta(max_length=10)] = []
    # Twins/multiples: the application number of a sibling (same family, same birth date) to
    # bundle with; bundled applications share their choices and are drawn as one unit.
    bundle_with: Number | None = None


class ApplicationUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Full replacement of the editable parts (the child's identity cannot change: withdraw and
    apply again instead). Choices of a bundle change for every member."""

    guardian: Guardian
    district: Code
    facts: Facts
    choices: Choices
    claims: Annotated[list[ClaimIn], msgspec.Meta(max_length=10)] = []


class ClaimOut(msgspec.Struct):
    kind: str
    school: str
    code: str
    status: str
    reason: str | None


class Receipt(msgspec.Struct):
    """What a family keeps: with the salt it can recompute ``record_sha256`` and, with the
    published bundle, check its log entry (``paiwei-audit receipt``)."""

    application: str
    campaign: str
    log_seq: int
    log_entry: str
    salt: str
    record_sha256: str


class ReceiptOut(msgspec.Struct):
    """A re-issued receipt: ``tlog_proof`` is a c2sp.org/tlog-proof@v1 text (index = seq, extra =
    the entry bytes, the log's signed checkpoint) for ``paiwei-audit receipt``."""

    application: str
    log_seq: int
    log_entry: str
    salt: str
    record_sha256: str
    tlog_proof: str


class PersonalOut(msgspec.Struct):
    child_name: str
    id_number_masked: str
    birth_date: date
    sex: str
    guardian: Guardian
    facts: Facts
    documents: list[list[str]]


class ApplicationOut(msgspec.Struct, kw_only=True):
    number: str
    campaign: str
    status: str
    district: str
    group: str | None
    choices: Choices
    claims: list[ClaimOut]
    review_status: str
    review_reason: str | None
    appeal_status: str
    created_at: datetime
    updated_at: datetime
    personal: PersonalOut | None = None
    receipt: Receipt | None = None
