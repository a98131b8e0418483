"""Receipts: a family's proof that its registration entry is in the log.

A receipt is a ``c2sp.org/tlog-proof@v1`` file (audit/proof.py) whose ``extra`` data is the
entry's exact bytes, whose index is the entry's seq and whose checkpoint is the signed
checkpoint the service issued it under. :func:`verify_receipt` checks it against a published
bundle: the receipt's own inclusion proof, then that the bundle's log is an append-only
extension of the receipt's checkpoint (RFC 9162 consistency proof, computed from the bundle's
entries) and holds the very same entry at the same position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from audit import note
from audit.bundle import read_bundle
from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.errors import MalformedError, VerificationError
from audit.log import parse_entry
from audit.merkle import MerkleTree, leaf_hash, verify_consistency
from audit.merkle import leaf_hashes as bulk_leaf_hashes
from audit.proof import TLogProof, format_tlog_proof, parse_tlog_proof, verify_tlog_proof
from audit.registration import check_record
from audit.verify import CheckRunner, NotPerformed, Report

__all__ = ["make_receipt", "verify_receipt"]


def make_receipt(leaf_hashes: Sequence[bytes], index: int, entry: bytes, checkpoint: str) -> str:
    """The receipt (tlog-proof text) for entry ``index`` under ``checkpoint``.

    ``leaf_hashes`` are the hashes of the first ``checkpoint size`` entries (at least). The
    checkpoint's size and root must match them.
    """
    from audit.checkpoint import parse_checkpoint

    cp = parse_checkpoint(note.parse_note(checkpoint).text)
    leaves = list(leaf_hashes[: cp.size])
    tree = MerkleTree(leaves) if len(leaves) == cp.size else None
    if tree is None or tree.root() != cp.root:
        raise MalformedError("the checkpoint does not match the given leaf hashes")
    if leaf_hash(entry) != leaves[index]:
        raise MalformedError(f"entry bytes are not those of leaf {index}")
    return format_tlog_proof(index, tree.inclusion_proof(index), checkpoint, extra=entry)


def verify_receipt(
    receipt: str,
    bundle_dir: str | Path,
    trust: Sequence[str] = (),
    *,
    salt: bytes | None = None,
    record: Mapping[str, object] | None = None,
) -> Report:
    """Check a receipt against a bundle; every check named in the report.

    Without ``trust`` the log key is taken from the bundle itself and the ``trust.pinned``
    check is reported as not performed (so the verdict cannot be VALID). With ``salt`` and
    ``record``, also checks that the registration commits to the family's personal record.
    Raises BundleError / KeyFormatError / MalformedError for unusable input.
    """
    bundle = read_bundle(bundle_dir)
    report = Report(f"receipt against {bundle_dir}")
    run = CheckRunner(report)
    origin = str(bundle.manifest.get("origin", ""))
    keys = [k for k in trust if k.strip()]

    def pinned() -> str:
        if not keys:
            raise NotPerformed("no --trust key given: the log key was taken from the bundle itself")
        return "log key pinned by the caller"

    run("trust.pinned", pinned)
    if not keys:
        if bundle.log_vkey is None:
            raise MalformedError("no --trust key given and the bundle has no keys/log.vkey")
        keys = [bundle.log_vkey]
    for k in keys:
        note.parse_verifier_key(k)
    proof_holder: list[TLogProof] = []
    cps: dict[str, Checkpoint] = {}

    def receipt_check() -> str:
        proof = parse_tlog_proof(receipt)
        proof_holder.append(proof)
        if proof.extra is None:
            raise VerificationError("the receipt carries no entry (no 'extra' line)")
        entry = parse_entry(proof.extra, expected_seq=proof.index)
        cps["receipt"] = verify_tlog_proof(proof, leaf_hash(proof.extra), keys)
        return (
            f"entry {entry.seq} ({entry.kind}, {entry.time}) is in the log of size "
            f"{cps['receipt'].size} signed by the log"
        )

    receipt_ok = run("receipt.inclusion", receipt_check)

    def bundle_signature() -> str:
        cps["bundle"] = verify_checkpoint(bundle.checkpoint, keys)
        if cps["bundle"].origin != origin:
            raise VerificationError(
                "bundle checkpoint origin", expected=origin, found=cps["bundle"].origin
            )
        return f"bundle checkpoint (size {cps['bundle'].size}) signed by the log"

    bundle_ok = run("bundle.signature", bundle_signature)
    lines = bundle.entry_lines
    tree = MerkleTree(bulk_leaf_hashes(lines))

    def consistency() -> str:
        if not (receipt_ok and bundle_ok):
            raise NotPerformed("needs a verified receipt and bundle checkpoint")
        old, new = cps["receipt"], cps["bundle"]
        if old.origin != new.origin:
            raise VerificationError(
                "receipt is for another log", expected=new.origin, found=old.origin
            )
        if tree.root() != new.root or tree.size != new.size:
            raise VerificationError("the bundle's entries do not match its checkpoint")
        if old.size > new.size:
            raise VerificationError(
                "the published log is smaller than when the receipt was issued",
                expected=f"at least {old.size}",
                found=new.size,
            )
        verify_consistency(old.size, new.size, tree.consistency_proof(old.size), old.root, new.root)
        return f"published log (size {new.size}) extends the receipt's (size {old.size})"

    consistent = run("bundle.consistency", consistency)

    def entry_present() -> str:
        if not consistent:
            raise NotPerformed("the bundle is not shown consistent with the receipt")
        proof = proof_holder[0]
        assert proof.extra is not None
        if lines[proof.index] != proof.extra:
            raise VerificationError(f"the bundle's entry {proof.index} differs from the receipt's")
        return f"entry {proof.index} is in the published bundle unchanged"

    run("bundle.entry", entry_present)
    if salt is not None or record is not None:

        def record_check() -> str:
            if salt is None or record is None:
                raise NotPerformed("both --salt and --record are needed")
            if not proof_holder or proof_holder[0].extra is None:
                raise NotPerformed("no readable entry in the receipt")
            entry = parse_entry(proof_holder[0].extra)
            check_record(entry.body, record, salt)
            return "the registration commits to this personal record (salted SHA-256)"

        run("registration.record", record_check)
    return report
