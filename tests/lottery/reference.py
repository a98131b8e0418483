"""A deliberately naive second implementation of paiwei-lottery/1, written from
docs/lottery-spec.md alone (dicts, sorted(), no positions, no numpy), used as an oracle."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import rfc8785


def reference_run(inst: dict[str, Any]) -> dict[str, Any]:
    seed = bytes.fromhex(inst["seed"])
    caps = {s["id"]: s["capacity"] for s in inst["schools"]}
    units: dict[str, dict[str, Any]] = {}
    for a in inst["applicants"]:
        uid = a.get("group") or a["id"]
        u = units.setdefault(uid, {"members": [], "choices": a["choices"], "apps": []})
        u["members"].append(a["id"])
        u["apps"].append(a)
    for u in units.values():
        u["members"].sort()
        # unit priority at s = max over members, a member's missing entry counting as 0
        u["prio"] = {
            s["id"]: max((m.get("priority") or {}).get(s["id"], 0) for m in u["apps"])
            for s in inst["schools"]
        }

    def tk(uid: str, s: str) -> bytes:
        msg = uid.encode() + b"\x01"
        if inst["tie_breaking"] == "multiple":
            msg = s.encode() + b"\x00" + msg
        return hmac.new(seed, msg, hashlib.sha256).digest()

    def key(s: str, uid: str) -> tuple[int, int, str]:
        return (-units[uid]["prio"].get(s, 0), int.from_bytes(tk(uid, s), "big"), uid)

    def choose(s: str, cands: list[str], seats: int) -> list[str]:
        out = []
        for uid in sorted(cands, key=lambda x: key(s, x)):
            z = len(units[uid]["members"])
            if inst["group_policy"] == "all-or-none":
                if z <= seats:
                    out.append(uid)
                    seats -= z
            else:
                if seats <= 0:
                    break
                out.append(uid)
                seats -= z
        return out

    place: dict[str, str] = {}
    if inst["mechanism"] == "deferred-acceptance":
        held: dict[str, list[str]] = {s: [] for s in caps}
        nxt = dict.fromkeys(units, 0)
        while True:
            holding = {u for h in held.values() for u in h}
            props: dict[str, list[str]] = {}
            for uid, u in units.items():
                if uid not in holding and nxt[uid] < len(u["choices"]):
                    props.setdefault(u["choices"][nxt[uid]], []).append(uid)
                    nxt[uid] += 1
            if not props:
                break
            for s, new in props.items():
                held[s] = choose(s, held[s] + new, caps[s])
        place = {uid: s for s, h in held.items() for uid in h}
    else:
        left = dict(caps)
        r = 0
        while any(r < len(u["choices"]) for u in units.values()):
            props = {}
            for uid, u in units.items():
                if uid not in place and r < len(u["choices"]):
                    props.setdefault(u["choices"][r], []).append(uid)
            for s, cands in props.items():
                for uid in choose(s, cands, left[s]):
                    place[uid] = s
                    left[s] -= len(units[uid]["members"])
            r += 1

    assignments: dict[str, Any] = {}
    for uid, u in units.items():
        for m in u["members"]:
            s = place.get(uid)
            assignments[m] = (
                None if s is None else {"school": s, "choice": u["choices"].index(s) + 1}
            )
    schools = {}
    for s in caps:
        chosen = sorted(
            (uid for uid, u in units.items() if s in u["choices"]), key=lambda x: key(s, x)
        )
        adm = [m for uid in chosen if place.get(uid) == s for m in units[uid]["members"]]
        wait = [
            m
            for uid in chosen
            if place.get(uid) is None
            or units[uid]["choices"].index(place[uid]) > units[uid]["choices"].index(s)
            for m in units[uid]["members"]
        ]
        schools[s] = {"admitted": adm, "waitlist": wait}
    res: dict[str, Any] = {
        "format": "paiwei-result/1",
        "instance_sha256": hashlib.sha256(rfc8785.dumps(inst)).hexdigest(),
        "assignments": assignments,
        "schools": schools,
    }
    if inst["tie_breaking"] == "single":
        res["tickets"] = {uid: tk(uid, "").hex() for uid in units}
    return res
