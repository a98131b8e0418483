"""Generate tests/vectors/ (run from the repository root: ``python tests/vectors/generate.py``).

Every file here is produced by this script from fixed inputs; tests/lottery/test_vectors.py checks
that the checked-in files equal its output and that the engine reproduces every result.

* ``ticket-elegy-vrs.json`` — the worked example of draft-thomson-elegy-vrs-00, Appendix B
  (https://datatracker.ietf.org/doc/html/draft-thomson-elegy-vrs-00): PRK = HKDF-Extract(salt =
  one-time code, IKM = randomness), positions = our ``ticket(PRK, label)``.  The draft publishes
  the first 27 hex digits of each position; the test checks ours against those.
* ``ticket-rfc5869.json`` — RFC 5869 Appendix A.1 and A.3, Expand step, first block (T(1)).
* ``<name>.instance.json`` / ``<name>.result.json`` — instances and the exact result bytes.
* ``invalid/<name>.json`` + ``invalid/index.json`` — invalid instances and the field each names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lottery import parse_instance, run  # noqa: E402
from lottery.errors import InvalidInstance  # noqa: E402
from lottery.ticket import hkdf_expand_block, ticket  # noqa: E402

HERE = Path(__file__).resolve().parent


def _dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode()


def _seed(name: str) -> str:
    return hashlib.sha256(b"paiwei test vector " + name.encode()).hexdigest()


class _Stream:
    """Deterministic, portable integers from SHA-256 in counter mode (no library PRNG)."""

    def __init__(self, label: str) -> None:
        self.key = hashlib.sha256(label.encode()).digest()
        self.n = 0

    def below(self, k: int) -> int:
        self.n += 1
        x = int.from_bytes(hashlib.sha256(self.key + self.n.to_bytes(8, "big")).digest(), "big")
        return x % k  # bias < 2**-200: irrelevant for test data


def elegy() -> dict[str, Any]:
    secret = b"totally not a bikeshed"
    chain = [secret]
    for _ in range(10):
        chain.append(hashlib.sha256(chain[-1]).digest())
    randomness = "1.2.3.4.5.6./1.2.3.4.5.6./1.2.3.4.5.6./"
    labels = [
        "lavenderblush", "blue", "darkgoldenrod", "mediumvioletred", "bisque", "lightpink",
        "aqua", "darkgray", "cornflowerblue",
    ]  # fmt: skip
    iterations = []
    for n in (9, 8):
        prk = hmac.digest(chain[n], randomness.encode(), "sha256")  # HKDF-Extract
        positions = sorted((ticket(prk, label).hex(), label) for label in labels)
        iterations.append(
            {
                "one_time_code": chain[n].hex(),
                "hash_iterations": n,
                "prk": prk.hex(),
                "positions": [{"label": lb, "ticket": t} for t, lb in positions],
            }
        )
    return {
        "source": "draft-thomson-elegy-vrs-00, Appendix B (Example Usage)",
        "secret_utf8": secret.decode(),
        "commitment_h10": chain[10].hex(),
        "randomness_utf8": randomness,
        "iterations": iterations,
    }


def rfc5869() -> dict[str, Any]:
    cases = []
    for name, ikm, salt, info in (
        ("A.1", bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA))),
        ("A.3", bytes([0x0B] * 22), b"", b""),
    ):
        prk = hmac.digest(salt or bytes(32), ikm, "sha256")
        cases.append(
            {
                "case": f"RFC 5869 {name}",
                "prk": prk.hex(),
                "info": info.hex(),
                "t1": hkdf_expand_block(prk, info).hex(),
            }
        )
    return {"source": "RFC 5869 Appendix A (SHA-256 cases), Expand step, T(1)", "cases": cases}


def _base(name: str, **kw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "format": "paiwei-instance/1",
        "seed": _seed(name),
        "mechanism": "deferred-acceptance",
        "tie_breaking": "single",
        "group_policy": "all-or-none",
    }
    obj.update(kw)
    return obj


def example() -> dict[str, Any]:
    """The worked example of docs/lottery-spec.md: 3 schools, 7 applicants, one twin pair."""
    return _base(
        "example",
        schools=[
            {"id": "east", "capacity": 3},
            {"id": "west", "capacity": 1},
            {"id": "north", "capacity": 1},
        ],
        applicants=[
            {"id": "ann", "choices": ["east", "west"]},
            {"id": "bo", "choices": ["east", "north"], "priority": {"east": 1}},
            {"id": "cai", "choices": ["west", "east"]},
            {"id": "dan", "choices": ["west", "east"]},
            {"id": "eva", "choices": ["east", "west"], "group": "twins-1"},
            {"id": "fei", "choices": ["east", "west"], "group": "twins-1"},
            {"id": "gu", "choices": ["north"], "group": None},
        ],
    )


def random_instance(name: str, n_schools: int, n_apps: int, **kw: Any) -> dict[str, Any]:
    r = _Stream(name)
    schools = [{"id": f"s{i:02d}", "capacity": r.below(6)} for i in range(n_schools)]
    apps: list[dict[str, Any]] = []
    g = 0
    while len(apps) < n_apps:
        k = 1 + r.below(min(4, n_schools))
        ch: list[str] = []
        while len(ch) < k:
            s = f"s{min(r.below(n_schools), r.below(n_schools)):02d}"  # skewed popularity
            if s not in ch:
                ch.append(s)
        size = 2 if r.below(10) == 0 else 1
        gid = f"g{g}" if size == 2 else None
        g += size == 2
        for _ in range(size):
            a: dict[str, Any] = {"id": f"a{len(apps):04d}", "choices": ch}
            if r.below(5) == 0:
                a["priority"] = {ch[r.below(len(ch))]: r.below(3) - 1}
            if gid:
                a["group"] = gid
            apps.append(a)
    return _base(name, schools=schools, applicants=apps, **kw)


def instances() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        "example": example(),
        "example-pr-admit-together": {
            **example(),
            "mechanism": "preference-rounds",
            "group_policy": "admit-together",
        },
        "example-multiple": {**example(), "tie_breaking": "multiple"},
    }
    for mech in ("deferred-acceptance", "preference-rounds"):
        for tie in ("single", "multiple"):
            for pol in ("all-or-none", "admit-together"):
                short = {"deferred-acceptance": "da", "preference-rounds": "pr"}[mech]
                name = f"{short}-{tie}-{pol}"
                out[name] = random_instance(
                    name, 8, 60, mechanism=mech, tie_breaking=tie, group_policy=pol
                )
    out["edge-unicode"] = _base(
        "edge-unicode",
        tie_breaking="single",
        group_policy="admit-together",
        schools=[{"id": "实验小学", "capacity": 1}, {"id": "𝔖-school", "capacity": 0},
                 {"id": "\ufb01", "capacity": 3}],
        applicants=[
            {"id": "张三", "choices": ["实验小学", "\ufb01"]},
            {"id": "😀", "choices": ["𝔖-school", "实验小学"], "priority": {"实验小学": -3}},
            {"id": "e\u0301", "choices": ["实验小学"], "group": "双胞胎"},
            {"id": "\u00e9", "choices": ["实验小学"], "group": "双胞胎"},
            {"id": "q\"\\/", "choices": ["\ufb01"], "priority": {"\ufb01": 9007199254740991}},
        ],
    )  # fmt: skip
    out["edge-empty"] = _base("edge-empty", schools=[{"id": "only", "capacity": 0}], applicants=[])
    return out


def invalid() -> dict[str, tuple[bytes, str]]:
    """Invalid instances and the field path that the error must name."""
    good = example()

    def mut(**kw: Any) -> bytes:
        return _dump({**good, **kw})

    apps = good["applicants"]
    return {
        "bad-json": (b'{"format": "paiwei-instance/1",', "(document)"),
        "wrong-format": (mut(format="paiwei-instance/2"), "format"),
        "bad-seed": (mut(seed="AB" * 32), "seed"),
        "short-seed": (mut(seed="ab" * 31), "seed"),
        "unknown-mechanism": (mut(mechanism="boston"), "mechanism"),
        "negative-capacity": (
            mut(schools=[{"id": "east", "capacity": -1}, *good["schools"][1:]]),
            "schools[0].capacity",
        ),
        "float-capacity": (
            mut(schools=[{"id": "east", "capacity": 2.0}, *good["schools"][1:]]),
            "schools[0].capacity",
        ),
        "duplicate-school": (mut(schools=[*good["schools"], {"id": "east", "capacity": 1}]),
                             "schools[3].id"),
        "unknown-school": (mut(applicants=[{"id": "x", "choices": ["south"]}]),
                           "applicants[0].choices[0]"),
        "repeated-choice": (mut(applicants=[{"id": "x", "choices": ["east", "east"]}]),
                            "applicants[0].choices[1]"),
        "empty-choices": (mut(applicants=[{"id": "x", "choices": []}]), "applicants[0].choices"),
        "duplicate-applicant": (mut(applicants=[*apps, {"id": "ann", "choices": ["east"]}]),
                                "applicants[7].id"),
        "group-choices-differ": (
            mut(applicants=[*apps, {"id": "hu", "choices": ["west"], "group": "twins-1"}]),
            "applicants[7].choices",
        ),
        "group-equals-applicant": (
            mut(applicants=[*apps, {"id": "ivy", "choices": ["east"], "group": "ann"}]),
            "applicants[7].group",
        ),
        "control-char-id": (mut(applicants=[{"id": "a\tb", "choices": ["east"]}]),
                            "applicants[0].id"),
        "unknown-member": (mut(applicants=[{"id": "x", "choices": ["east"], "name": "X"}]),
                           "applicants[0].name"),
        "priority-unknown-school": (
            mut(applicants=[{"id": "x", "choices": ["east"], "priority": {"south": 1}}]),
            "applicants[0].priority.south",
        ),
        "priority-key-path": (
            mut(applicants=[{"id": "x", "choices": ["east"], "priority": {"east": 1, "s.1": 2}}]),
            'applicants[0].priority["s.1"]',
        ),
        "duplicate-member-nested": (
            _dump(good).replace(b'"id": "ann"', b'"id": "ann",\n   "id": "ann"', 1),
            "applicants[0].id",
        ),
        "first-error-order": (
            mut(applicants=[*apps[:5], {**apps[5], "choices": ["east"]},
                            {"id": "hu", "choices": ["south"]}]),
            "applicants[5].choices",
        ),
        "duplicate-member": (
            _dump(good)[:-3] + b',\n "seed": "' + ("00" * 32).encode() + b'"\n}\n',
            "seed",
        ),
    }  # fmt: skip


def build() -> dict[str, bytes]:
    """All vector files, path relative to tests/vectors -> exact bytes."""
    files: dict[str, bytes] = {
        "ticket-elegy-vrs.json": _dump(elegy()),
        "ticket-rfc5869.json": _dump(rfc5869()),
    }
    for name, obj in instances().items():
        data = _dump(obj)
        parse_instance(data)
        files[f"{name}.instance.json"] = data
        files[f"{name}.result.json"] = run(data)
    index = {}
    for name, (data, field) in invalid().items():
        try:
            parse_instance(data)
        except InvalidInstance as exc:
            if exc.field != field:
                raise AssertionError(f"{name}: names {exc.field!r}, expected {field!r}") from exc
        else:
            raise AssertionError(f"{name}: unexpectedly valid")
        files[f"invalid/{name}.json"] = data
        index[name] = {"field": field}
    files["invalid/index.json"] = _dump(index)
    return files


def main() -> None:
    for rel, data in build().items():
        path = HERE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(build())} files under {HERE}")


if __name__ == "__main__":
    main()
