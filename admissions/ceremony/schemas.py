"""Wire schemas of the ceremony (msgspec; unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

AwareDT = Annotated[datetime, msgspec.Meta(tz=True)]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
VerifierKey = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
SignedNote = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
BeaconField = str | int
Round = Literal["private", "public"]


class WitnessIn(msgspec.Struct, forbid_unknown_fields=True):
    """A witness of the draw: the account that will submit its notes and its Ed25519 key."""

    account: Username
    vkey: VerifierKey


class DrawIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Opening a draw publishes the policy, witnesses, beacon and deadlines (draw.roster)."""

    round: Round
    mechanism: Literal["deferred-acceptance", "preference-rounds"]
    tie_breaking: Literal["single", "multiple"]
    group_policy: Literal["all-or-none", "admit-together"]
    # {"source": "drand-quicknet", "round": R} or {"source": "cwl", "game", "issue", "draw_date"}
    beacon: dict[str, BeaconField]
    witnesses: Annotated[list[WitnessIn], msgspec.Meta(min_length=1, max_length=32)]
    min_reveals: Annotated[int, msgspec.Meta(ge=1, le=32)]
    commit_deadline: AwareDT
    reveal_deadline: AwareDT
    confirm_deadline: AwareDT
    offer_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 72


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """A commit or reveal note made offline with ``paiwei-audit commit`` / ``reveal``."""

    note: SignedNote


class BeaconIn(msgspec.Struct, forbid_unknown_fields=True):
    """Evidence of the announced beacon (docs/beacon.md): quicknet round + signature, or the
    welfare-lottery numbers."""

    evidence: dict[str, str | int | dict[str, list[int]]]


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["confirm", "decline"]


class OfferDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["accept", "decline"]
    # which outstanding offer (its id in /standing); default: the oldest
    offer: Annotated[int, msgspec.Meta(ge=1)] | None = None


class WitnessOut(msgspec.Struct):
    key_id: str
    vkey: str
    committed: bool
    revealed: bool
    commit_seq: int | None
    reveal_seq: int | None


class DrawOut(msgspec.Struct):
    id: str
    campaign_id: str
    round: str
    status: str
    mechanism: str
    tie_breaking: str
    group_policy: str
    beacon: dict[str, object]
    min_reveals: int
    commit_deadline: datetime
    reveal_deadline: datetime
    confirm_deadline: datetime
    offer_hours: int
    instance_sha256: str
    schools: int
    applicants: int
    roster_seq: int
    witnesses: list[WitnessOut]
    beacon_seq: int | None = None
    beacon_value: str | None = None
    seed: str | None = None
    seed_seq: int | None = None
    result_sha256: str | None = None
    result_seq: int | None = None
    placed: int | None = None
    failure: str | None = None
    # after the private draw: the public (统筹) rosters it froze, by id
    public_rosters: list[str] | None = None


class PlacementOut(msgspec.Struct):
    application: str
    round: str
    school: str
    pool: str | None
    seat: str
    basis: str
    status: str


class OfferOut(msgspec.Struct):
    id: int
    application: str
    draw: str
    seat: str
    position: int
    status: str
    offered_at: datetime
    respond_by: datetime


class StandingOut(msgspec.Struct):
    """An application's placements (all rounds, with status) and offers."""

    application: str
    placements: list[PlacementOut]
    offers: list[OfferOut]


class SweepOut(msgspec.Struct):
    lapsed_placements: int
    lapsed_offers: int
    offers: list[OfferOut]
