"""A small campaign taken to a frozen roster, witnesses with keys, and ceremony shortcuts.

Schools: PUB1 (public, 3 seats, bands hukou_property > hukou), PRV1 (private, day pool 2 seats),
PRV2 (private, day pool 2 seats). Families choose PUB1 and PRV1 (every third also PRV2), so PRV1
is oversubscribed (a private roster) and, after the private draw, PUB1 is oversubscribed (a
public roster, 统筹).

Beacons: the private draw uses a real published drand quicknet round (30662990, 2026-07-23
07:38:54Z; its signature is checked offline) with the test clock running before that time; the
public draw uses a 双色球 draw announced for 2026-08-02 (only its form can be checked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit import draw as drawmod
from audit import note
from tests.admissions.helpers import CAMPAIGN, CLOSE_AT, REVIEW_DEADLINE, Api, application
from tests.audit.fixtures import QUICKNET_ROUND, QUICKNET_SIG

SCHOOLS = [
    {
        "code": "PUB1",
        "name": "梁溪实验小学",
        "district": "liangxi",
        "kind": "public",
        "plan": 3,
        "catchments": ["c1", "c2"],
        "bands": [
            {"code": "hukou_property", "label": "户籍+房产", "rank": 2},
            {"code": "hukou", "label": "户籍", "rank": 1},
        ],
    },
    {
        "code": "PRV1",
        "name": "民办外国语小学",
        "district": "liangxi",
        "kind": "private",
        "plan": 2,
        "pools": [{"code": "day", "name": "走读", "seats": 2}],
    },
    {
        "code": "PRV2",
        "name": "民办实验小学",
        "district": "binhu",
        "kind": "private",
        "plan": 2,
        "pools": [{"code": "day", "name": "走读", "seats": 2}],
    },
]

T = datetime  # shorthand below
COMMIT_DEADLINE = datetime(2026, 6, 1, tzinfo=UTC)
REVEAL_DEADLINE = datetime(2026, 6, 10, tzinfo=UTC)
AFTER_BEACON = datetime(2026, 7, 23, 8, 0, tzinfo=UTC)
CONFIRM_DEADLINE = datetime(2026, 8, 20, tzinfo=UTC)
QUICKNET = {"source": "drand-quicknet", "round": QUICKNET_ROUND}
QUICKNET_EVIDENCE = {"source": "drand-quicknet", "round": QUICKNET_ROUND, "signature": QUICKNET_SIG}
# public round (after the private result, 2026-07-23): a 双色球 draw of 2026-08-02
PUB_COMMIT = datetime(2026, 7, 25, tzinfo=UTC)
PUB_REVEAL = datetime(2026, 7, 28, tzinfo=UTC)
AFTER_CWL = datetime(2026, 8, 3, tzinfo=UTC)
CWL = {"source": "cwl", "game": "双色球", "issue": "2026088", "draw_date": "2026-08-02"}
CWL_EVIDENCE = {**CWL, "numbers": {"red": [2, 9, 13, 21, 27, 30], "blue": [11]}}


def witness_keys(n: int = 3) -> list[tuple[str, str]]:
    """(signer key, verifier key) of ``n`` witnesses, deterministic."""
    return [note.generate_key(f"notary.example/w{i}", seed=bytes([i + 1]) * 32) for i in range(n)]


async def frozen_world(api: Api, families: int = 9, twins: bool = False) -> list[str]:
    """Accounts, campaign, schools; ``families`` eligible applications (plus, with ``twins``, a
    bundled pair choosing PUB1 and PRV1, last in the list); frozen. Returns numbers."""
    for name, role in (("admin", "admin"), ("city", "officer"), ("p1", "parent"), ("p2", "parent")):
        await api.account(name, role)
    for name in ("w0", "w1", "w2"):
        await api.account(name, "witness")
    await api.account("nota", "notary")
    r = await api.client.post("/campaigns", json=CAMPAIGN, headers=api.h["admin"])
    assert r.status_code == 201, r.text
    api.campaign_id = r.json()["id"]
    for s in SCHOOLS:
        r = await api.client.post(
            f"/campaigns/{api.campaign_id}/schools", json=s, headers=api.h["city"]
        )
        assert r.status_code == 201, r.text
    await api.open()
    numbers: list[str] = []
    for i in range(families):
        private = [{"school": "PRV1", "pool": "day"}]
        if i % 3 == 2:
            private.append({"school": "PRV2", "pool": "day"})
        body = application(serial=100 + 2 * i)
        body["choices"] = {"public": "PUB1", "private": private}
        if i % 2:
            body["claims"] = []
        r = await api.register(body, who="p1" if i % 2 == 0 else "p2")
        assert r.status_code == 201, r.text
        numbers.append(r.json()["number"])
    if twins:
        pair = {"public": "PUB1", "private": [{"school": "PRV1", "pool": "day"}]}
        first = application(serial=500, birth="20200601", choices=pair, claims=[])
        r = await api.register(first)
        assert r.status_code == 201, r.text
        t1 = r.json()["number"]
        second = application(serial=502, birth="20200601", choices=pair, claims=[])
        r = await api.register({**second, "bundle_with": t1})
        assert r.status_code == 201, r.text
        numbers += [t1, r.json()["number"]]
    api.clock.set(CLOSE_AT)
    assert (await api.phase("closed")).status_code == 200
    for i, n in enumerate(numbers):
        r = await api.review(n, claims=0 if i % 2 or i >= families else 1)
        assert r.status_code == 200, r.text
    api.clock.set(REVIEW_DEADLINE)
    assert (await api.phase("reviewed")).status_code == 200
    r = await api.client.post(f"/campaigns/{api.campaign_id}/freeze", headers=api.h["city"])
    assert r.status_code == 200, r.text
    return numbers


def draw_request(round_: str = "private", **changes: Any) -> dict[str, Any]:
    keys = witness_keys()
    body: dict[str, Any] = {
        "round": round_,
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
        "beacon": QUICKNET if round_ == "private" else CWL,
        "witnesses": [{"account": f"w{i}", "vkey": v} for i, (_, v) in enumerate(keys)],
        "min_reveals": 2,
        "commit_deadline": (COMMIT_DEADLINE if round_ == "private" else PUB_COMMIT).isoformat(),
        "reveal_deadline": (REVEAL_DEADLINE if round_ == "private" else PUB_REVEAL).isoformat(),
        "confirm_deadline": CONFIRM_DEADLINE.isoformat(),
        "offer_hours": 48,
    }
    body.update(changes)
    return body


def notes(draw_id: str, roster_hex: str, i: int) -> tuple[str, str, bytes]:
    """(commit note, reveal note, secret) of witness ``i`` (deterministic secret)."""
    skey, _ = witness_keys()[i]
    secret = bytes([0x40 + i]) * 32
    roster = bytes.fromhex(roster_hex)
    return (
        drawmod.commit_note(draw_id, roster, secret, skey),
        drawmod.reveal_note(draw_id, roster, secret, skey),
        secret,
    )


async def ceremony_until_run(
    api: Api, round_: str = "private", reveal: tuple[int, ...] = (0, 1, 2)
) -> dict[str, Any]:
    """Open the round's draw, three witnesses commit, ``reveal`` reveal, beacon entered.
    Returns the draw (not yet run)."""
    r = await api.client.post(
        f"/campaigns/{api.campaign_id}/draws", json=draw_request(round_), headers=api.h["city"]
    )
    assert r.status_code == 201, r.text
    d = r.json()
    made = [notes(d["id"], d["instance_sha256"], i) for i in range(3)]
    for i in range(3):
        r = await api.client.post(
            f"/draws/{d['id']}/commit", json={"note": made[i][0]}, headers=api.h[f"w{i}"]
        )
        assert r.status_code == 200, r.text
    api.clock.set(COMMIT_DEADLINE if round_ == "private" else PUB_COMMIT)
    for i in reveal:
        r = await api.client.post(
            f"/draws/{d['id']}/reveal", json={"note": made[i][1]}, headers=api.h[f"w{i}"]
        )
        assert r.status_code == 200, r.text
    api.clock.set(AFTER_BEACON if round_ == "private" else AFTER_CWL)
    r = await api.client.post(
        f"/draws/{d['id']}/beacon",
        json={"evidence": QUICKNET_EVIDENCE if round_ == "private" else CWL_EVIDENCE},
        headers=api.h["city"],
    )
    assert r.status_code == 200, r.text
    return dict(r.json())
