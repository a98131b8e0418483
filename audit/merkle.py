"""RFC 9162 Merkle tree hashing, proofs and their verification (SHA-256).

Theory of operation
-------------------
The log is a list of entries ``D[0:n]``. RFC 9162 §2.1.1 defines its Merkle Tree Hash::

    MTH({})     = SHA-256()
    MTH({d0})   = SHA-256(0x00 || d0)                      -- leaf_hash
    MTH(D[n])   = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
                  where k is the largest power of two smaller than n

Functions here work on *leaf hashes* (``leaf_hash(entry)``), so a caller hashes each entry once.

- Proof generation follows the RFC's recursive definitions: PATH (§2.1.3.1) and
  PROOF/SUBPROOF (§2.1.4.1).
- Proof verification follows the RFC's iterative algorithms step by step (§2.1.3.2 and
  §2.1.4.2), with the extra input checks of the Go reference
  (transparency-dev/merkle ``proof/verify.go``): hashes must be 32 bytes, an index must be inside
  the tree, a proof between equal sizes must be empty.
- :class:`CompactRange` keeps only the right edge of the tree (one hash per set bit of the size),
  so appending is O(log n) time and memory and the root can be recomputed at any moment. It
  stores the same nodes as transparency-dev/merkle ``compact.Range`` for the range ``[0, size)``.
- :class:`MerkleTree` holds every level of the tree over a list of leaf hashes, built bottom up
  in bulk (for a verifier that has all entries at once). Level 0 is the leaves; level ``h + 1``
  hashes adjacent pairs of level ``h``, and an odd last node is carried up unchanged. Node ``i``
  of level ``h`` is then MTH(D[i*2^h : min((i+1)*2^h, n)]): the RFC's split at the largest power
  of two below the size is exactly this left-to-right pairing. Every range the RFC's PATH and
  SUBPROOF recursions ask for is such a node, so proofs are O(log n) look-ups.

Every verifier raises :class:`audit.errors.VerificationError` naming what was expected and found.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from itertools import islice, repeat

from audit.errors import VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: MTH of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _prefixed_digests(prefix: bytes, items: Iterable[bytes]) -> list[bytes]:
    """``[SHA-256(prefix || x).digest() for x in items]``, in bulk.

    The prefix's hash state is computed once and copied per item (the same bytes as hashing
    ``prefix || x``; it skips a concatenation and a hash set-up per item), and the per-item
    calls are made by ``map`` in C, a block at a time to bound the live hash objects.
    """
    start = hashlib.sha256(prefix)
    kind = type(start)
    out: list[bytes] = []
    it = iter(items)
    while block := list(islice(it, _BLOCK)):
        states = list(map(kind.copy, repeat(start, len(block))))
        deque(map(kind.update, states, block), maxlen=0)
        out += map(kind.digest, states)
    return out


_BLOCK = 4096


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """``[leaf_hash(e) for e in entries]``, in bulk."""
    return _prefixed_digests(_LEAF_PREFIX, entries)


def _parent_level(level: Sequence[bytes]) -> list[bytes]:
    """Level ``h + 1`` from level ``h``: hash adjacent pairs; an odd last node is carried up."""
    pairs = map(bytes.__add__, level[0::2], level[1::2])  # stops after len // 2 pairs
    up = _prefixed_digests(_NODE_PREFIX, pairs)
    if len(level) & 1:
        up.append(level[-1])
    return up


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise VerificationError(f"{what} must be a {HASH_SIZE}-byte SHA-256 hash, got {size}")


def _largest_power_of_two_below(n: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two strictly smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Every level of the RFC 9162 tree over a list of leaf hashes (see the module docstring).

    Built bottom up in bulk: n - 1 node hashes, about 2n hashes kept. ``root()``,
    ``inclusion_proof()`` and ``consistency_proof()`` then cost O(log n).
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        leaves = list(leaf_hashes)
        if set(map(type, leaves)) - {bytes} or set(map(len, leaves)) - {HASH_SIZE}:
            for i, h in enumerate(leaves):
                _check_hash(h, f"leaf hash {i}")
            leaves = list(map(bytes, leaves))  # bytearrays of the right size
        self._levels = [leaves]
        while len(self._levels[-1]) > 1:
            self._levels.append(_parent_level(self._levels[-1]))

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def root(self) -> bytes:
        """MTH of all leaves (RFC 9162 §2.1.1); SHA-256("") for the empty tree."""
        top = self._levels[-1]
        return top[0] if top else EMPTY_ROOT

    def subtree_root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range that is a node: ``lo = i * 2^h``, ``hi = min(lo + 2^h, n)``."""
        if hi == lo:
            return EMPTY_ROOT
        h = (hi - lo - 1).bit_length()  # smallest h with 2^h >= hi - lo
        if lo % (1 << h) or hi != min(lo + (1 << h), self.size):
            raise ValueError(f"[{lo}, {hi}) is not a node of the tree of size {self.size}")
        return self._levels[h][lo >> h]

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The audit path PATH(index, D[n]) of RFC 9162 §2.1.3.1, leaf level first.

        ``PATH(m, D[1]) = {}``; for n > 1 with k the largest power of two < n:
        ``PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])`` if m < k, else
        ``PATH(m - k, D[k:n]) : MTH(D[0:k])``.
        """
        n = self.size
        if not 0 <= index < n:
            raise ValueError(f"index {index} is outside the tree of size {n}")
        path: list[bytes] = []
        lo, hi = 0, n
        # Walk down from the root, collecting siblings; reversed at the end (leaf level first).
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if index - lo < k:
                path.append(self.subtree_root(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.subtree_root(lo, lo + k))
                lo = lo + k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 = SUBPROOF(m, D[n], true).

        ``SUBPROOF(m, D[m], true) = {}``; ``SUBPROOF(m, D[m], false) = {MTH(D[m])}``; for m < n
        with k the largest power of two < n: if m <= k, ``SUBPROOF(m, D[0:k], b) : MTH(D[k:n])``,
        else ``SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])``. The proof from 0 or to the same
        size is empty.
        """
        n = self.size
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} is outside 0..{n}")
        if old_size in (0, n):
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, n, old_size, True
        while m != hi - lo:
            k = _largest_power_of_two_below(hi - lo)
            if m <= k:
                proof.append(self.subtree_root(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree_root(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        if not complete:
            proof.append(self.subtree_root(lo, hi))
        proof.reverse()
        return proof


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the tree whose leaves have these hashes (RFC 9162 §2.1.1); empty -> SHA-256("")."""
    return MerkleTree(leaf_hashes).root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1, leaf level first (see :class:`MerkleTree`)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"index {index} is outside the tree of size {n}")
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 (see :class:`MerkleTree`)."""
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} is outside 0..{n}")
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify an inclusion proof exactly as RFC 9162 §2.1.3.2; raise VerificationError if not."""
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof element {i}")
    # Step 1.
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is not inside a tree of size {size}")
    # Steps 2-3.
    fn, sn = index, size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            raise VerificationError(
                f"inclusion proof for leaf {index} in tree {size} is too long",
                expected=f"at most {_inclusion_length(index, size)} hashes",
                found=f"{len(proof)} hashes",
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise VerificationError(
            f"inclusion proof for leaf {index} in tree {size} is too short",
            expected=f"{_inclusion_length(index, size)} hashes",
            found=f"{len(proof)} hashes",
        )
    if r != root:
        raise VerificationError(
            f"inclusion proof for leaf {index} in tree {size} leads to a different root",
            expected=bytes(root),
            found=r,
        )


def _inclusion_length(index: int, size: int) -> int:
    """Number of hashes in a correct inclusion proof (for error messages)."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner + border


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Verify a consistency proof exactly as RFC 9162 §2.1.4.2; raise VerificationError if not.

    Before the RFC's loop, the cases it leaves to the caller are settled as in
    transparency-dev/merkle: ``old_size > new_size`` fails; equal sizes need an empty proof and
    equal roots; ``old_size == 0`` needs an empty proof (every tree extends the empty tree) and,
    stricter than Go, ``old_root`` must be the empty-tree hash.
    """
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for i, c in enumerate(proof):
        _check_hash(c, f"consistency proof element {i}")
    if old_size < 0 or new_size < old_size:
        raise VerificationError(
            f"tree size went backwards: old size {old_size}, new size {new_size}"
        )
    if old_size == new_size:
        if proof:
            raise VerificationError(
                f"consistency proof between equal sizes {old_size} must be empty",
                expected="0 hashes",
                found=f"{len(proof)} hashes",
            )
        if old_root != new_root:
            raise VerificationError(
                f"two different roots for the same tree size {old_size}",
                expected=bytes(old_root),
                found=bytes(new_root),
            )
        return
    if old_size == 0:
        if proof:
            raise VerificationError(
                "consistency proof from the empty tree must be empty",
                expected="0 hashes",
                found=f"{len(proof)} hashes",
            )
        if old_root != EMPTY_ROOT:
            raise VerificationError(
                "root of the empty tree is wrong", expected=EMPTY_ROOT, found=bytes(old_root)
            )
        return
    what = f"consistency proof from size {old_size} to {new_size}"
    # Step 1.
    if not proof:
        raise VerificationError(f"{what} is empty")
    path = list(proof)
    # Step 2.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(f"{what} is too long", found=f"{len(proof)} hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise VerificationError(f"{what} is too short", found=f"{len(proof)} hashes")
    if fr != old_root:
        raise VerificationError(
            f"{what} does not lead to the old root", expected=bytes(old_root), found=fr
        )
    if sr != new_root:
        raise VerificationError(
            f"{what} does not lead to the new root", expected=bytes(new_root), found=sr
        )


class CompactRange:
    """The right edge of a Merkle tree of ``size`` leaves: O(log n) appends and root.

    ``hashes()`` are the roots of the perfect subtrees that make up ``[0, size)``, one per set
    bit of ``size``, largest (leftmost) first -- the nodes transparency-dev/merkle's
    ``compact.Range`` keeps for ``[0, size)``. Persist ``size`` and ``hashes()``; restore with
    ``CompactRange(size, hashes)``.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"compact range size must be a non-negative integer, got {size!r}")
        expected = bin(size).count("1")
        if len(hashes) != expected:
            raise ValueError(
                f"a compact range of size {size} holds {expected} hashes, got {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
                raise ValueError(f"compact range hash {i} must be {HASH_SIZE} bytes")
        self._size = size
        self._hashes = [bytes(h) for h in hashes]

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash; merges equal-height subtrees (one per trailing 1-bit of size)."""
        if not isinstance(leaf_hash, bytes | bytearray) or len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        hashes = self._hashes
        hashes.append(bytes(leaf_hash))
        s = self._size
        while s & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            s >>= 1
        self._size += 1

    def root(self) -> bytes:
        """MTH of the ``size`` leaves: fold the subtree roots from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r

    def hashes(self) -> list[bytes]:
        """The subtree roots (largest first); with ``size`` they restore the range."""
        return list(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
