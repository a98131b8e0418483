"""The draw transcript: the six kinds of log entry that make one lottery draw verifiable.

Theory of operation (normative text: docs/log-format.md §Draw transcript)
-------------------------------------------------------------------------
A draw is logged, in this order, as

1. ``draw.roster``  -- the SHA-256 of the RFC 8785 lottery instance *without* its ``seed``, the
   mechanism, tie-breaking and group policy, the public randomness (source and future round or
   draw) that will be used, the witnesses' verifier keys and the minimum number of reveals;
2. ``draw.commit``  -- per witness, a note signed by the witness carrying ``SHA-256(secret)``;
3. ``draw.reveal``  -- per witness, a note signed by the witness carrying the 32-byte secret;
4. ``draw.beacon``  -- the randomness value with its source, round and evidence;
5. ``draw.seed``    -- ``HKDF-Extract(salt = roster digest, IKM = lp(beacon) || lp(secret_1)
   || ...)`` (RFC 5869 §2.2, SHA-256), the secrets of valid reveals ordered by witness key ID,
   ``lp(x)`` = 4-byte big-endian length || x;
6. ``draw.result``  -- the SHA-256 of the RFC 8785 result and per-school counts.

The functions here build the ``body`` of each entry (pass it to ``audit.log.entry_bytes`` or the
service's log) and parse/check them back. They are pure: secrets and times are passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from audit import note
from audit._bulk import NO_FLOATS, bmp_only, paused_gc
from audit._canon import canonical_json
from audit.errors import MalformedError, VerificationError

__all__ = [
    "COMMIT_HEADER",
    "DRAW_KINDS",
    "REVEAL_HEADER",
    "WitnessNote",
    "beacon_body",
    "check_draw_id",
    "commit_body",
    "commit_note",
    "commitment",
    "derive_seed",
    "engine_result_body",
    "hkdf_extract",
    "instance_digest",
    "lp",
    "parse_witness_note",
    "read_canonical_instance",
    "read_instance",
    "result_body",
    "result_instance_sha256",
    "result_sha256",
    "reveal_body",
    "reveal_note",
    "roster_body",
    "seed_body",
    "witness_id",
]

DRAW_KINDS = (
    "draw.roster",
    "draw.commit",
    "draw.reveal",
    "draw.beacon",
    "draw.seed",
    "draw.result",
)
COMMIT_HEADER = "paiwei-draw-commit/1"
REVEAL_HEADER = "paiwei-draw-reveal/1"
_DRAW_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # fullmatch: `$` admits a final \n
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
SECRET_SIZE = 32


def check_draw_id(draw_id: str) -> str:
    """Draw ids are 1-64 chars of ``[A-Za-z0-9._-]`` starting alphanumeric (a safe file name)."""
    if not isinstance(draw_id, str) or not _DRAW_ID_RE.fullmatch(draw_id):
        raise MalformedError(
            f"draw id {draw_id!r} must be 1-64 characters of A-Z a-z 0-9 . _ - "
            "starting with a letter or digit"
        )
    return draw_id


def _hex32(value: object, field: str) -> bytes:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise MalformedError(f"{field}: expected 64 lowercase hex digits, found {value!r}")
    return bytes.fromhex(value)


def lp(data: bytes) -> bytes:
    """Length prefix: 4-byte big-endian length of ``data``, then ``data``."""
    if len(data) >= 2**32:
        raise MalformedError("value too long for a 4-byte length prefix")
    return struct.pack(">I", len(data)) + data


def derive_seed(roster_digest: bytes, beacon: bytes, reveals: Sequence[tuple[str, bytes]]) -> bytes:
    """The draw seed: RFC 5869 HKDF-Extract with SHA-256.

    ``PRK = HMAC-SHA256(key = salt, msg = IKM)`` with ``salt = roster_digest`` (32 bytes) and
    ``IKM = lp(beacon) || lp(secret_1) || lp(secret_2) || ...`` where the reveals
    ``(witness key ID as 8 lowercase hex digits, 32-byte secret)`` are taken in ascending order of
    key ID (sorted here; the caller's order does not matter). Key IDs must be distinct.
    """
    if len(roster_digest) != 32:
        raise MalformedError(f"roster digest must be 32 bytes, got {len(roster_digest)}")
    seen: set[str] = set()
    for kid, secret in reveals:
        if not isinstance(kid, str) or not re.fullmatch(r"[0-9a-f]{8}", kid):
            raise MalformedError(f"witness key ID {kid!r} must be 8 lowercase hex digits")
        if kid in seen:
            raise MalformedError(f"witness key ID {kid} appears twice among the reveals")
        seen.add(kid)
        if len(secret) != SECRET_SIZE:
            raise MalformedError(
                f"secret of witness {kid} must be {SECRET_SIZE} bytes, got {len(secret)}"
            )
    ikm = lp(bytes(beacon)) + b"".join(lp(s) for _, s in sorted(reveals, key=lambda r: r[0]))
    return hkdf_extract(bytes(roster_digest), ikm)


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 §2.2 HKDF-Extract with SHA-256: ``PRK = HMAC-Hash(salt, IKM)``."""
    return hmac.digest(salt, ikm, "sha256")


def instance_digest(instance: Mapping[str, Any]) -> bytes:
    """SHA-256 of the RFC 8785 form of a lottery instance with its ``seed`` member removed.

    By definition equal to ``lottery.Instance.digest_without_seed()`` for the parsed instance.
    """
    return hashlib.sha256(
        canonical_json({k: v for k, v in instance.items() if k != "seed"})
    ).digest()


def read_instance(
    raw: bytes, members: Sequence[str] = ("seed", "mechanism", "tie_breaking", "group_policy")
) -> tuple[dict[str, Any], bytes]:
    """instance.json's bytes -> (the named top-level ``members`` it has, its instance_digest).

    The definition is ``json.loads`` then :func:`instance_digest`. The bulk path gives the same
    and is taken only when it provably does: msgspec decodes the bytes refusing every float
    (what it then returns is what ``json.loads`` returns), and on a value with no float,
    integers within +-(2^53 - 1) (orjson ``OPT_STRICT_INTEGER``) and no character outside the
    BMP, orjson with sorted keys writes exactly RFC 8785 (lottery/canonical.py). The parsed
    instance is dropped before returning (with the garbage collector still paused: a million
    applicants are millions of objects). Raises :class:`MalformedError` if ``raw`` is not a
    JSON object.
    """
    with paused_gc():
        try:
            value = NO_FLOATS.decode(raw)
        except (msgspec.MsgspecError, ValueError):
            value = None
        digest = None
        if isinstance(value, dict) and bmp_only(raw):
            try:
                canon = orjson.dumps(
                    {k: v for k, v in value.items() if k != "seed"},
                    option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER,
                )
            except orjson.JSONEncodeError:
                pass
            else:
                digest = hashlib.sha256(canon).digest()
                del canon
        if digest is None:  # the definition
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise MalformedError(f"instance.json is not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise MalformedError("instance.json is not a JSON object")
            digest = instance_digest(value)
        assert isinstance(value, dict)
        picked = {k: value[k] for k in members if k in value}
        del value
    return picked, digest


# The tail and the middle of an RFC 8785 paiwei-instance/1 text (top-level members sorted:
# applicants, format, group_policy, mechanism, schools, seed, tie_breaking). A JSON string
# literal is '"' (no '"' or '\\' | an escape pair)* '"'.
_STR = rb'"(?:[^"\\]|\\.)*"'
_SEED_MEMBER = b',"seed":"'
_TAIL = re.compile(rb',"seed":"([0-9a-f]{64})","tie_breaking":(' + _STR + rb")}", re.DOTALL)
_MIDDLE_AT = b'"format":"paiwei-instance/1","group_policy":"'
_MIDDLE = re.compile(
    rb'"format":"paiwei-instance/1","group_policy":('
    + _STR
    + rb'),"mechanism":('
    + _STR
    + rb'),"schools":\[',
    re.DOTALL,
)
_TAIL_WINDOW = 512  # bytes searched for the seed member: a valid tie_breaking is 6-8 characters


def read_canonical_instance(
    raw: bytes, instance_sha256: str
) -> tuple[dict[str, Any], bytes] | None:
    """What :func:`read_instance` returns, read off the bytes without parsing them, or None.

    Precondition: the lottery engine accepted ``raw`` as a valid paiwei-instance/1
    (docs/lottery-spec.md §1: exactly its seven members, ids and enumerations as specified)
    and reported ``instance_sha256``, the SHA-256 of the RFC 8785 form of its value. The
    verifier has both from the recomputation it runs anyway.

    Soundness. Let ``text`` be ``raw`` without one final newline. If SHA-256(text) equals
    ``instance_sha256``, then (SHA-256 being collision resistant) ``text`` *is* the RFC 8785
    form: compact, top-level members sorted. In a JSON text every ``"`` inside a string is
    escaped, so a ``"`` not preceded by a backslash is a string delimiter, and one followed
    by a name and ``":`` opens a member name. Hence the anchored tail
    ``,"seed":"<64 hex>","tie_breaking":"..."}`` (found from the end, matched to the last byte)
    is the last two members of the top-level object, and removing ``,"seed":"<hex>"`` leaves
    the RFC 8785 form of the instance without its seed (a member that is not first, removed
    with its comma, from sorted compact members): its SHA-256 is the roster digest. Likewise
    ``"format":"paiwei-instance/1","group_policy":...,"mechanism":...,"schools":[`` can only be
    top-level members, since in a valid instance no other object has a member with a string
    value named ``format`` (applicants' priorities map ids to integers). Both hashes share
    the prefix before the seed member, so the text is hashed once. Any condition not met gives
    None, and the caller uses :func:`read_instance` (the definition) instead.
    """
    view = memoryview(raw)
    end = len(raw) - 1 if raw.endswith(b"\n") else len(raw)
    at = raw.rfind(_SEED_MEMBER, max(0, end - _TAIL_WINDOW), end)
    tail = _TAIL.fullmatch(raw, at, end) if at > 0 else None
    mid_at = raw.find(_MIDDLE_AT, 0, at)
    middle = _MIDDLE.match(raw, mid_at) if mid_at > 0 else None
    if tail is None or middle is None or not raw.startswith(b"{"):
        return None
    prefix = hashlib.sha256(view[:at])
    whole = prefix.copy()
    whole.update(view[at:end])
    if whole.hexdigest() != instance_sha256:
        return None
    prefix.update(view[tail.end(1) + 1 : end])  # after '"<hex>"': the tie_breaking member on
    members = {
        "seed": tail.group(1).decode("ascii"),
        "tie_breaking": json.loads(tail.group(2)),
        "group_policy": json.loads(middle.group(1)),
        "mechanism": json.loads(middle.group(2)),
    }
    return members, prefix.digest()


_RESULT_SHA_AT = b'},"format":"paiwei-result/1","instance_sha256":"'
_RESULT_SHA = re.compile(rb'},"format":"paiwei-result/1","instance_sha256":"([0-9a-f]{64})"')


def result_instance_sha256(result: bytes) -> str | None:
    """``instance_sha256`` of a result the lottery engine wrote, or None if not found.

    In the engine's RFC 8785 result the top-level members are ``assignments`` (an object
    whose values are null or placements), ``format``, ``instance_sha256``, ``schools`` and
    maybe ``tickets``. The searched bytes hold no backslash, so each of their ``"`` is a string
    delimiter: the first match closes ``assignments`` and is the top-level member. For the
    engine's output only -- a file from the bundle proves nothing by its shape.
    """
    at = result.find(_RESULT_SHA_AT)
    found = _RESULT_SHA.match(result, at) if at >= 0 else None
    return found.group(1).decode("ascii") if found else None


def engine_result_body(draw_id: str, result_json: bytes) -> dict[str, object]:
    """:func:`result_body` of bytes that the lottery engine wrote (the verifier compared them
    with its own recomputation); counted off the bytes without parsing when that is sound.
    """
    counted = _count_engine_result(result_json)
    if counted is None:
        return result_body(draw_id, result_json)
    check_draw_id(draw_id)
    return _result_body(draw_id, result_json, counted)


_SCHOOLS_AT = b'","schools":{'
_ADMITTED = b'":{"admitted":['
_WAITLIST = b'],"waitlist":['


def _count_engine_result(
    result: bytes,
) -> tuple[int, int, dict[str, dict[str, int]], str] | None:
    """(applicants, placed, counts, instance_sha256) of an engine-written result, or None.

    The engine writes the RFC 8785 form of docs/lottery-spec.md §7: ``assignments`` (values
    ``null`` or ``{"choice":N,"school":ID}``), ``format``, ``instance_sha256``, ``schools``
    (``{ID:{"admitted":[IDs],"waitlist":[IDs]}}``), then maybe ``tickets``. When the text has
    no backslash, no string holds a ``"``: every ``"`` is a delimiter, so inside
    ``assignments`` a placement is exactly an occurrence of ``{"choice":`` and an unplaced
    applicant of ``":null``, and each list of ids holds two ``"`` per id. Anything unexpected
    gives None (then :func:`result_body` decides).
    """
    if b"\\" in result or not result.startswith(b'{"assignments":{'):
        return None
    sha = result_instance_sha256(result)
    at = result.find(_RESULT_SHA_AT)
    if sha is None:
        return None
    begin = len(b'{"assignments":{')
    placed = result.count(b'{"choice":', begin, at)
    applicants = placed + result.count(b'":null', begin, at)
    pos = at + len(_RESULT_SHA_AT) + 64
    if not result.startswith(_SCHOOLS_AT, pos):
        return None
    pos += len(_SCHOOLS_AT)
    counts: dict[str, dict[str, int]] = {}
    while not result.startswith(b"}", pos):  # one school: "ID":{"admitted":[..],"waitlist":[..]}
        close = result.find(b'"', pos + 1)
        if not result.startswith(b'"', pos) or not result.startswith(_ADMITTED, close):
            return None
        sid = result[pos + 1 : close].decode("utf-8")
        end, admitted = _id_list(result, close + len(_ADMITTED))
        if not result.startswith(_WAITLIST, end):
            return None
        end, waitlist = _id_list(result, end + len(_WAITLIST))
        if not result.startswith(b"]}", end):
            return None
        counts[sid] = {"admitted": admitted, "waitlist": waitlist}
        pos = end + 2
        if result.startswith(b',"', pos):
            pos += 1
    return applicants, placed, counts, sha


def _id_list(text: bytes, lo: int) -> tuple[int, int]:
    """(index of the ``]`` that closes the list of strings starting at ``lo``, number of
    strings); (-1, 0) if there is none. ``text`` has no backslash: every ``"`` is a delimiter
    and they alternate from ``lo``, opening first, so a ``"]`` ends the list only where its
    ``"`` closes a string -- where ``text[lo:]`` up to it holds an even number of ``"`` (an id
    may itself start with ``]``)."""
    if text.startswith(b"]", lo):
        return lo, 0
    hi = text.find(b'"]', lo)
    while hi >= 0:
        quotes = text.count(b'"', lo, hi + 1)
        if quotes % 2 == 0:
            return hi + 1, quotes // 2
        hi = text.find(b'"]', hi + 1)
    return -1, 0


def witness_id(vkey: str) -> str:
    """A witness's id in the transcript: its note key ID as 8 lowercase hex digits."""
    return f"{note.parse_verifier_key(vkey).key_id:08x}"


def commitment(secret: bytes) -> bytes:
    """``SHA-256(secret)`` for a 32-byte secret."""
    if len(secret) != SECRET_SIZE:
        raise MalformedError(f"secret must be {SECRET_SIZE} bytes, got {len(secret)}")
    return hashlib.sha256(secret).digest()


def roster_body(
    draw_id: str,
    instance: Mapping[str, Any],
    *,
    beacon: Mapping[str, object],
    witnesses: Sequence[str],
    min_reveals: int,
) -> dict[str, object]:
    """Body of ``draw.roster``.

    ``instance`` is the paiwei-instance/1 JSON object (its ``seed``, if present, is ignored);
    ``beacon`` the announcement of the public randomness to be used (``{"source":
    "drand-quicknet", "round": R}`` or ``{"source": "cwl", "game": ..., "issue": ...}``; see
    audit/beacon.py); ``witnesses`` the witnesses' Ed25519 verifier keys.
    """
    check_draw_id(draw_id)
    keys = [note.parse_verifier_key(w) for w in witnesses]
    if any(k.alg != note.ALG_ED25519 for k in keys):
        raise MalformedError("witnesses: verifier keys must be Ed25519 (type 0x01)")
    ids = [f"{k.key_id:08x}" for k in keys]
    if len(set(ids)) != len(ids):
        raise MalformedError("witnesses: two witnesses have the same key ID")
    if not isinstance(min_reveals, int) or not 1 <= min_reveals <= len(keys):
        raise MalformedError(
            f"min_reveals must be between 1 and the number of witnesses ({len(keys)}), "
            f"got {min_reveals!r}"
        )
    for field in ("mechanism", "tie_breaking", "group_policy"):
        if not isinstance(instance.get(field), str):
            raise MalformedError(f"instance.{field}: missing or not a string")
    applicants, schools = instance.get("applicants"), instance.get("schools")
    if not isinstance(applicants, list) or not isinstance(schools, list):
        raise MalformedError("instance: applicants and schools must be arrays")
    ordered = sorted(zip(ids, keys, strict=True), key=lambda p: p[0])
    return {
        "draw": draw_id,
        "instance_sha256": instance_digest(instance).hex(),
        "mechanism": instance["mechanism"],
        "tie_breaking": instance["tie_breaking"],
        "group_policy": instance["group_policy"],
        "applicants": len(applicants),
        "schools": len(schools),
        "beacon": dict(beacon),
        "witnesses": [k.text for _, k in ordered],
        "min_reveals": min_reveals,
    }


def _witness_note_text(
    header: str, draw_id: str, roster_digest: bytes, field: str, value: bytes
) -> str:
    check_draw_id(draw_id)
    if len(roster_digest) != 32:
        raise MalformedError(f"roster digest must be 32 bytes, got {len(roster_digest)}")
    return f"{header}\ndraw {draw_id}\nroster {roster_digest.hex()}\n{field} {value.hex()}\n"


def commit_note(draw_id: str, roster_digest: bytes, secret: bytes, skey: str) -> str:
    """The witness's signed commitment note::

    paiwei-draw-commit/1
    draw <draw id>
    roster <instance_sha256 of draw.roster>
    commitment <hex SHA-256(secret)>
    """
    text = _witness_note_text(
        COMMIT_HEADER, draw_id, roster_digest, "commitment", commitment(secret)
    )
    return note.sign(text, skey)


def reveal_note(draw_id: str, roster_digest: bytes, secret: bytes, skey: str) -> str:
    """The witness's signed reveal note (as :func:`commit_note`, last line ``secret <hex>``)."""
    if len(secret) != SECRET_SIZE:
        raise MalformedError(f"secret must be {SECRET_SIZE} bytes, got {len(secret)}")
    return note.sign(
        _witness_note_text(REVEAL_HEADER, draw_id, roster_digest, "secret", secret), skey
    )


@dataclass(frozen=True, slots=True)
class WitnessNote:
    """A verified commit or reveal note."""

    kind: str  # "commit" or "reveal"
    draw: str
    roster: bytes
    value: bytes  # the commitment or the secret
    witness: str  # key ID, 8 hex digits


def parse_witness_note(signed: str, vkey: str, *, kind: str) -> WitnessNote:
    """Verify a commit/reveal note's signature by ``vkey`` and parse its four lines."""
    header, field = (COMMIT_HEADER, "commitment") if kind == "commit" else (REVEAL_HEADER, "secret")
    text = note.verify(signed, [vkey])
    lines = text[:-1].split("\n")
    if len(lines) != 4 or lines[0] != header:
        raise MalformedError(f"{kind} note: expected 4 lines starting {header!r}")
    prefixes = ("draw ", "roster ", f"{field} ")
    for line, prefix in zip(lines[1:], prefixes, strict=True):
        if not line.startswith(prefix):
            raise MalformedError(f"{kind} note: expected a line starting {prefix.strip()!r}")
    draw_id = check_draw_id(lines[1][len("draw ") :])
    roster = _hex32(lines[2][len("roster ") :], f"{kind} note roster")
    value = _hex32(lines[3][len(field) + 1 :], f"{kind} note {field}")
    return WitnessNote(kind, draw_id, roster, value, witness_id(vkey))


def commit_body(draw_id: str, vkey: str, signed_note: str) -> dict[str, object]:
    """Body of ``draw.commit``: ``{"draw", "witness": key ID, "note": signed commit note}``."""
    parsed = parse_witness_note(signed_note, vkey, kind="commit")
    if parsed.draw != draw_id:
        raise MalformedError("commit note is for another draw", expected=draw_id, found=parsed.draw)
    return {"draw": draw_id, "witness": parsed.witness, "note": signed_note}


def reveal_body(draw_id: str, vkey: str, signed_note: str) -> dict[str, object]:
    """Body of ``draw.reveal``: ``{"draw", "witness": key ID, "note": signed reveal note}``."""
    parsed = parse_witness_note(signed_note, vkey, kind="reveal")
    if parsed.draw != draw_id:
        raise MalformedError("reveal note is for another draw", expected=draw_id, found=parsed.draw)
    return {"draw": draw_id, "witness": parsed.witness, "note": signed_note}


def beacon_body(draw_id: str, evidence: Mapping[str, object], value: bytes) -> dict[str, object]:
    """Body of ``draw.beacon``: the evidence (see audit/beacon.py) and the value's bytes in hex."""
    check_draw_id(draw_id)
    if not isinstance(evidence, Mapping) or "source" not in evidence:
        raise MalformedError("beacon evidence must be an object with a 'source'")
    return {"draw": draw_id, "evidence": dict(evidence), "value": bytes(value).hex()}


def seed_body(
    draw_id: str, seed: bytes, revealed: Sequence[str], missing: Sequence[str]
) -> dict[str, object]:
    """Body of ``draw.seed``: the seed and which witnesses' reveals entered it (sorted key IDs)."""
    check_draw_id(draw_id)
    if len(seed) != 32:
        raise MalformedError(f"seed must be 32 bytes, got {len(seed)}")
    return {
        "draw": draw_id,
        "seed": seed.hex(),
        "revealed": sorted(revealed),
        "missing": sorted(missing),
    }


def result_sha256(result_json: bytes) -> bytes:
    """SHA-256 of the RFC 8785 result: result.json's bytes without the final newline."""
    end = len(result_json) - 1 if result_json.endswith(b"\n") else len(result_json)
    return hashlib.sha256(memoryview(result_json)[:end]).digest()  # no copy of a large file


def result_body(draw_id: str, result_json: bytes) -> dict[str, object]:
    """Body of ``draw.result`` from result.json's bytes.

    ``{"draw", "result_sha256", "instance_sha256" (from the result), "applicants", "placed",
    "counts": {school: {"admitted": n, "waitlist": n}}}`` -- counts of applicants.
    """
    check_draw_id(draw_id)
    counted = _count_result(result_json)
    if counted is None:  # the definition, where the bulk path cannot vouch for the input
        try:
            result = json.loads(result_json)
        except ValueError as exc:
            raise MalformedError(f"result.json: not JSON ({exc})") from exc
        if not isinstance(result, dict):
            raise MalformedError("result.json: not a JSON object")
        assignments, schools = result.get("assignments"), result.get("schools")
        if not isinstance(assignments, dict) or not isinstance(schools, dict):
            raise MalformedError("result.json: missing 'assignments' or 'schools' objects")
        counts: dict[str, dict[str, int]] = {}
        for sid, outcome in schools.items():
            if not isinstance(outcome, dict):
                raise MalformedError(f"result.json: schools.{sid} is not an object")
            admitted, waitlist = outcome.get("admitted", []), outcome.get("waitlist", [])
            counts[sid] = {
                "admitted": _count_members(admitted),
                "waitlist": _count_members(waitlist),
            }
        counted = (
            len(assignments),
            sum(1 for a in assignments.values() if a is not None),
            counts,
            result.get("instance_sha256"),
        )
    return _result_body(draw_id, result_json, counted)


def _result_body(
    draw_id: str, result_json: bytes, counted: tuple[int, int, dict[str, dict[str, int]], object]
) -> dict[str, object]:
    """The ``draw.result`` body from the counts (applicants, placed, per-school counts,
    instance_sha256)."""
    applicants, placed, counts, instance_sha256 = counted
    return {
        "draw": draw_id,
        "result_sha256": result_sha256(result_json).hex(),
        "instance_sha256": instance_sha256,
        "applicants": applicants,
        "placed": placed,
        "counts": counts,
    }


class _Outcome(msgspec.Struct):
    admitted: list[Any] = []
    waitlist: list[Any] = []


class _Counted(msgspec.Struct):
    """The members of result.json that :func:`result_body` reads; the rest is only parsed."""

    assignments: dict[str, msgspec.Raw]
    schools: dict[str, _Outcome]
    instance_sha256: Any = None


_COUNTED = msgspec.json.Decoder(_Counted)
_NULL = msgspec.Raw(b"null")


def _count_result(
    result_json: bytes,
) -> tuple[int, int, dict[str, dict[str, int]], object] | None:
    """(applicants, placed, counts, instance_sha256) as :func:`result_body` defines them, in bulk.

    None when the bulk path cannot vouch for the input. msgspec parses the whole text (it
    checks the syntax of the members it skips or keeps raw, but not their UTF-8, which is
    checked here), so what it accepts ``json.loads`` accepts with the same values; an
    assignment is unplaced exactly when its value is the literal ``null``.
    """
    if not result_json.isascii():
        try:
            result_json.decode("utf-8")
        except UnicodeDecodeError:
            return None
    with paused_gc():  # and r is dropped before it resumes
        try:
            r = _COUNTED.decode(result_json)
        except (msgspec.MsgspecError, ValueError):
            return None
        values = list(r.assignments.values())
        counts = {
            sid: {"admitted": _count_members(o.admitted), "waitlist": _count_members(o.waitlist)}
            for sid, o in r.schools.items()
        }
        counted = len(values), len(values) - values.count(_NULL), counts, r.instance_sha256
        del r, values
    return counted


def _count_members(items: object) -> int:
    # `admitted` may list units as applicant ids or as lists of member ids.
    if not isinstance(items, list):
        raise MalformedError("result.json: admitted/waitlist must be arrays")
    if not any(issubclass(t, list) for t in set(map(type, items))):
        return len(items)  # no unit lists: one member per item
    return sum(len(x) if isinstance(x, list) else 1 for x in items)


def parse_body_hex(body: Mapping[str, object], field: str, what: str) -> bytes:
    """A 32-byte hex field of an entry body, or MalformedError naming it."""
    return _hex32(body.get(field), f"{what}.{field}")


def require_fields(body: Mapping[str, object], fields: Sequence[str], what: str) -> None:
    """Require an entry body to have exactly these members."""
    found = sorted(body)
    if found != sorted(fields):
        raise MalformedError(
            f"{what}: wrong members", expected=", ".join(sorted(fields)), found=", ".join(found)
        )


def verify_reveal_matches(commit: WitnessNote, reveal: WitnessNote) -> None:
    """``SHA-256(secret) == commitment`` and both notes name the same draw and roster."""
    if (commit.draw, commit.roster) != (reveal.draw, reveal.roster):
        raise VerificationError(
            f"witness {reveal.witness}: reveal names another draw or roster than its commitment"
        )
    got = hashlib.sha256(reveal.value).digest()
    if got != commit.value:
        raise VerificationError(
            f"witness {reveal.witness}: SHA-256 of the revealed secret differs from the commitment",
            expected=commit.value,
            found=got,
        )
