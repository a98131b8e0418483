"""RFC 9162 Merkle tree: published vectors and properties.

Vectors are copied (as facts) from transparency-dev/merkle ``proof/verify_test.go``
(https://github.com/transparency-dev/merkle/blob/main/proof/verify_test.go): the eight leaves,
the roots of the trees of sizes 1..8, and the inclusion and consistency proofs between them.
Indices there are 1-based for leaves; here they are converted to 0-based.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.errors import VerificationError
from audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (1-based leaf, size, proof)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
HASHES = [leaf_hash(x) for x in LEAVES]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert root([]) == hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_published_roots(size: int) -> None:
    assert root(HASHES[:size]) == ROOTS[size - 1]
    edge = CompactRange()
    for x in HASHES[:size]:
        edge.append(x)
    assert edge.root() == ROOTS[size - 1]
    restored = CompactRange(edge.size, edge.hashes())
    assert restored.root() == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_published_inclusion_proofs(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    assert inclusion_proof(HASHES[:size], index) == proof
    verify_inclusion(HASHES[index], index, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_published_consistency_proofs(size1: int, size2: int, proof: list[bytes]) -> None:
    assert consistency_proof(HASHES[:size2], size1) == proof
    verify_consistency(size1, size2, proof, ROOTS[size1 - 1], ROOTS[size2 - 1])


def _inclusion_probes(index: int, size: int, proof: list[bytes], rt: bytes, lh: bytes):  # type: ignore[no-untyped-def]
    """The corruptions of transparency-dev's corruptInclusionProof."""
    probes = [
        (index - 1, size, rt, lh, proof),
        (index + 1, size, rt, lh, proof),
        (index ^ 2, size, rt, lh, proof),
        (index, size * 2, rt, lh, proof),
        (index, size // 2, rt, lh, proof),
        (index, size, rt, b"WrongLeaf", proof),
        (index, size, EMPTY_ROOT, lh, proof),
        (index, size, SOME_HASH, lh, proof),
        (index, size, rt, lh, [*proof, b""]),
        (index, size, rt, lh, [*proof, rt]),
        (index, size, rt, lh, [b"", *proof]),
        (index, size, rt, lh, [rt, *proof]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, rt, lh, bad))
    if proof:
        probes.append((index, size, rt, lh, proof[:-1]))
    if len(proof) > 1:
        probes.append((index, size, rt, lh, [proof[0], SOME_HASH, *proof[1:]]))
    return probes


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    for i, s, rt, lh, p in _inclusion_probes(index, size, proof, ROOTS[size - 1], HASHES[index]):
        with pytest.raises(VerificationError):
            verify_inclusion(lh, i, s, p, rt)


@pytest.mark.parametrize(("size1", "size2", "proof"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_fail(size1: int, size2: int, proof: list[bytes]) -> None:
    """The corruptions of transparency-dev's corruptConsistencyProof."""
    r1, r2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    probes = [
        (size1 - 1, size2, r1, r2, proof),
        (size1 + 1, size2, r1, r2, proof),
        (size1 ^ 2, size2, r1, r2, proof),
        (size1, size2 * 2, r1, r2, proof),
        (size1, size2 // 2, r1, r2, proof),
        (size1, size2, b"WrongRoot", r2, proof),
        (size1, size2, r1, b"WrongRoot", proof),
        (size1, size2, r2, r1, proof),
        (size1, size2, r1, r2, []),
        (size1, size2, r1, r2, [*proof, b""]),
        (size1, size2, r1, r2, [*proof, r1]),
        (size1, size2, r1, r2, [*proof, r2]),
        (size1, size2, r1, r2, [b"", *proof]),
        (size1, size2, r1, r2, [r1, *proof]),
        (size1, size2, r1, r2, [r2, *proof]),
        (size1, size2, r1, r2, [proof[0], *proof]),
        (size1, size2, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((size1, size2, r1, r2, bad))
    for s1, s2, a, b, p in probes:
        with pytest.raises(VerificationError):
            verify_consistency(s1, s2, p, a, b)


def test_consistency_edge_cases() -> None:
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(0, 5, [], EMPTY_ROOT, ROOTS[4])
    verify_consistency(3, 3, [], ROOTS[2], ROOTS[2])
    with pytest.raises(VerificationError, match="same tree size"):
        verify_consistency(3, 3, [], ROOTS[2], ROOTS[3])
    with pytest.raises(VerificationError, match="backwards"):
        verify_consistency(2, 1, [], ROOTS[1], ROOTS[0])
    with pytest.raises(VerificationError, match="must be empty"):
        verify_consistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, ROOTS[0])
    with pytest.raises(VerificationError, match="is empty"):
        verify_consistency(1, 2, [], ROOTS[0], ROOTS[1])


def test_inclusion_edge_cases() -> None:
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        with pytest.raises(VerificationError):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    with pytest.raises(VerificationError, match="32-byte"):
        verify_inclusion(b"", 0, 1, [], EMPTY_ROOT)


def test_compact_range_rejects_bad_state() -> None:
    with pytest.raises(ValueError, match="holds 2 hashes"):
        CompactRange(3, [SOME_HASH])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(1, [b"short"])


def _tree(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(data: bytes, pos: int, bit: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies(case: tuple[int, int]) -> None:
    n, index = case
    leaves = _tree(n)
    verify_inclusion(leaves[index], index, n, inclusion_proof(leaves, index), root(leaves))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_every_consistency_proof_verifies(case: tuple[int, int]) -> None:
    n, m = case
    leaves = _tree(n)
    verify_consistency(m, n, consistency_proof(leaves, m), root(leaves[:m]), root(leaves))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_bit_in_an_inclusion_proof_is_rejected(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 200))
    index = data.draw(st.integers(0, n - 1))
    leaves = _tree(n)
    proof = inclusion_proof(leaves, index)
    which = data.draw(st.integers(0, len(proof) - 1))
    pos, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    proof[which] = _flip(proof[which], pos, bit)
    with pytest.raises(VerificationError):
        verify_inclusion(leaves[index], index, n, proof, root(leaves))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_bit_in_a_consistency_proof_is_rejected(data: st.DataObject) -> None:
    n = data.draw(st.integers(3, 200))
    m = data.draw(st.integers(1, n - 1))
    leaves = _tree(n)
    proof = consistency_proof(leaves, m)
    which = data.draw(st.integers(0, len(proof) - 1))
    pos, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    proof[which] = _flip(proof[which], pos, bit)
    with pytest.raises(VerificationError):
        verify_consistency(m, n, proof, root(leaves[:m]), root(leaves))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=20), min_size=1, max_size=50), st.data())
def test_any_changed_entry_byte_changes_the_root(entries: list[bytes], data: st.DataObject) -> None:
    """A single-byte change to any entry is caught by its inclusion proof."""
    leaves = [leaf_hash(e) for e in entries]
    i = data.draw(st.integers(0, len(entries) - 1))
    entry = entries[i] or b"\x00"
    pos = data.draw(st.integers(0, len(entry) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = entry[:pos] + bytes([(entry[pos] + delta) % 256]) + entry[pos + 1 :]
    if not entries[i]:
        changed = entry  # the empty entry changed to one byte
    with pytest.raises(VerificationError):
        verify_inclusion(
            leaf_hash(changed), i, len(leaves), inclusion_proof(leaves, i), root(leaves)
        )


# Reference: RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH and §2.1.4.1 SUBPROOF, written as the RFC's
# recursive definitions over leaf hashes, to check the bulk bottom-up MerkleTree against.
def _k(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(_mth(d[:k]), _mth(d[k:]))


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


@given(st.integers(0, 100))
@settings(max_examples=50, deadline=None)
def test_bulk_tree_equals_the_rfc_definitions(n: int) -> None:
    d = leaf_hashes(b"%d" % i for i in range(n))
    assert d == [leaf_hash(b"%d" % i) for i in range(n)]
    tree = MerkleTree(d)
    assert tree.root() == _mth(d) == root(d)
    edge = CompactRange()
    for x in d:
        edge.append(x)
    assert edge.root() == tree.root()
    for m in range(n):
        assert tree.inclusion_proof(m) == _path(m, d) == inclusion_proof(d, m)
    for m in range(1, n):
        assert tree.consistency_proof(m) == _subproof(m, d, True) == consistency_proof(d, m)
    assert tree.consistency_proof(0) == tree.consistency_proof(n) == []


def test_bulk_tree_rejects_bad_leaf_hashes() -> None:
    with pytest.raises(VerificationError, match="leaf hash 1"):
        MerkleTree([bytes(32), bytes(31)])
    with pytest.raises(VerificationError, match="leaf hash 0"):
        root(["x" * 32])  # type: ignore[list-item]
    assert MerkleTree([bytearray(32)]).root() == bytes(32)
    with pytest.raises(ValueError, match="not a node"):
        MerkleTree([bytes(32)] * 5).subtree_root(1, 3)
