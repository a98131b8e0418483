"""The transparency log inside the service's database (paiwei-log/1, docs/log-format.md).

Theory of operation: an append runs *inside the caller's transaction*. It locks the single
``log_state`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are already
serialised by ``BEGIN IMMEDIATE``), restores the tree's right edge (``audit.merkle.CompactRange``)
from it, builds the entry with ``audit.log.entry_bytes`` (seq = current size; time = the clock,
but never earlier than the previous entry's time, so the verifier's "non-decreasing time" check
holds even when transactions race), inserts the entry, appends its RFC 9162 leaf hash and stores
the new edge. The state change and its log entry therefore commit or roll back together, and
appends are totally ordered. Callers should append last, just before commit, to keep the lock short.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from admissions.auditlog.models import LogEntry, LogState
from admissions.clock import rfc3339
from admissions.context import Context
from admissions.errors import InvalidInput


@dataclass(frozen=True)
class Appended:
    seq: int
    time: str
    entry: bytes
    size: int
    root: bytes


async def append(
    session: AsyncSession,
    ctx: Context,
    kind: str,
    actor: str,
    body: Mapping[str, object],
) -> Appended:
    """Append one entry in the current transaction (the caller owns ``session.begin()``)."""
    from audit.log import entry_bytes
    from audit.merkle import CompactRange, leaf_hash

    state = (
        await session.execute(sa.select(LogState).where(LogState.id == 1).with_for_update())
    ).scalar_one()
    h = state.hashes
    edge = CompactRange(state.size, [h[i : i + 32] for i in range(0, len(h), 32)])
    time = max(rfc3339(ctx.clock()), state.last_time)
    seq = state.size
    entry = entry_bytes(seq, time, kind, actor, body)
    lh = leaf_hash(entry)
    edge.append(lh)
    session.add(LogEntry(seq=seq, kind=kind, time=time, entry=entry, leaf_hash=lh))
    state.size = edge.size
    state.hashes = b"".join(edge.hashes())
    state.last_time = time
    await session.flush()
    return Appended(seq=seq, time=time, entry=entry, size=edge.size, root=edge.root())


async def tree_head(session: AsyncSession) -> tuple[int, bytes]:
    """(size, root) of the log as committed."""
    from audit.merkle import CompactRange

    async with session.begin():
        state = (await session.execute(sa.select(LogState).where(LogState.id == 1))).scalar_one()
    h = state.hashes
    edge = CompactRange(state.size, [h[i : i + 32] for i in range(0, len(h), 32)])
    return edge.size, edge.root()


async def signed_checkpoint(session: AsyncSession, ctx: Context) -> str:
    """The log's C2SP checkpoint for its current size, signed with the log key."""
    from audit.checkpoint import sign_checkpoint

    size, root = await tree_head(session)
    return sign_checkpoint(ctx.settings.log_origin, size, root, ctx.settings.log_signing_key)


async def entries(session: AsyncSession, start: int, limit: int) -> list[LogEntry]:
    if start < 0:
        raise InvalidInput("start", "must be >= 0")
    async with session.begin():
        rows = await session.execute(
            sa.select(LogEntry)
            .where(LogEntry.seq >= start, LogEntry.seq < start + limit)
            .order_by(LogEntry.seq)
        )
        return list(rows.scalars())


async def all_entries(session: AsyncSession) -> list[bytes]:
    """Every entry's bytes in seq order (for bundles; O(n) memory)."""
    async with session.begin():
        rows = await session.execute(sa.select(LogEntry.entry).order_by(LogEntry.seq))
        return [r for (r,) in rows]
