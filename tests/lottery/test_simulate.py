"""simulate(): derived seeds, tallies consistent with individual draws, CLI output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import lottery

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
EXAMPLE = (VECTORS / "example.instance.json").read_bytes()


def test_simulation_equals_draws_with_derived_seeds() -> None:
    inst = lottery.parse_instance(EXAMPLE)
    n = 40
    sim = lottery.simulate(inst, n)
    obj = orjson.loads(EXAMPLE)
    tally: dict[str, dict[str, int]] = {a["id"]: {} for a in obj["applicants"]}
    filled = {s["id"]: 0 for s in obj["schools"]}
    for i in range(n):
        seed = lottery.simulation_seed(inst.seed, i)
        res = lottery.draw(lottery.parse_instance(orjson.dumps({**obj, "seed": seed.hex()})))
        for a, p in res.assignments.items():
            if p is not None:
                tally[a][p.school] = tally[a].get(p.school, 0) + 1
        for s, out in res.schools.items():
            filled[s] += len(out.admitted)
    for a, ch in sim.applicants.items():
        for s, p in zip(ch.choices, ch.probability, strict=True):
            assert p == tally[a].get(s, 0) / n
        assert sum(ch.probability) + ch.unplaced == pytest.approx(1.0)
    for s, f in sim.schools.items():
        assert f.mean == filled[s] / n
        assert f.minimum <= f.mean <= f.maximum


def test_simulation_seed_derivation() -> None:
    import hashlib
    import hmac

    seed = bytes(range(32))
    want = hmac.new(seed, b"paiwei-simulate/1\x00" + (7).to_bytes(8, "big"), hashlib.sha256)
    assert lottery.simulation_seed(seed, 7) == want.digest()


def test_draws_must_be_positive() -> None:
    with pytest.raises(lottery.LotteryError, match="draws"):
        lottery.simulate(lottery.parse_instance(EXAMPLE), 0)


def test_cli_simulate_table_and_json() -> None:
    src = str(VECTORS / "example.instance.json")
    p = subprocess.run(
        [sys.executable, "-m", "lottery", "simulate", src, "--draws", "50"],
        capture_output=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert b"50 simulated draws" in p.stdout and b"east" in p.stdout and b"eva" in p.stdout
    p = subprocess.run(
        [sys.executable, "-m", "lottery", "simulate", src, "--draws", "50", "--json"],
        capture_output=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["format"] == "paiwei-simulation/1" and out["draws"] == 50
    sim = lottery.simulate(lottery.parse_instance(EXAMPLE), 50)
    assert out["applicants"]["gu"]["choices"][0]["p"] == sim.applicants["gu"].probability[0]
