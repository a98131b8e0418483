"""Deterministic fuzzing of the registration body: random type swaps, deletions and junk at
random places never give a 5xx, always a problem document, and never change the database
unless the body happens to be valid."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.admissions.helpers import Api, application

pytestmark = pytest.mark.anyio

JUNK: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    "",
    "x" * 300,
    "\x00",
    "张",
    [],
    {},
    [1],
    {"a": 1},
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(body: dict[str, Any], rng: random.Random) -> Any:
    path = rng.choice(_paths(body))
    parent: Any = body
    for k in path[:-1]:
        parent = parent[k]
    action = rng.random()
    if action < 0.6:
        parent[path[-1]] = rng.choice(JUNK)
    elif action < 0.8 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["unexpected_" + str(rng.randrange(100))] = rng.choice(JUNK)
    else:
        parent.append(rng.choice(JUNK))
    return body


async def test_random_bodies_never_crash(world: Api) -> None:
    rng = random.Random(20260501)
    for i in range(120):
        before = await world.counts()
        body = _mutate(application(serial=200 + i % 700), rng)
        if rng.random() < 0.3:
            body = _mutate(body, rng)
        r = await world.register(body)
        assert r.status_code < 500, (body, r.text)
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["field"]
            assert await world.counts() == before
