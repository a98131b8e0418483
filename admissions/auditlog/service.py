"""The transparency log inside the service's database (paiwei-log/1, docs/log-format.md).

Theory of operation. Two ways in, one ordering:

* :func:`append` -- *direct*: inside the caller's transaction, lock the single ``log_state`` row
  (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are already serialised by
  ``BEGIN IMMEDIATE``), restore the tree's right edge (``audit.merkle.CompactRange``), first
  sequence every queued record (below), then add the entry. Used for low-rate officer actions
  (phases, schools, review, freeze; the ceremony's draw entries), whose seq is needed at once.
* :func:`enqueue` + :func:`sequenced` -- *queued* (Trillian's queue/sequencer design), used for
  high-rate family actions (edit, withdrawal; registration where it is not group-committed,
  :func:`append_script` below): the record (kind, actor, body) is
  inserted into ``log_queue`` in the same transaction as the state change, so a change and its
  log record commit or roll back together without every registration queueing for the global
  lock. Right after its commit the request waits (:func:`sequenced`) for the process's
  :class:`Sequencer`, which takes the lock once and moves *every* queued record into the tree in
  queue order; under load one round sequences many (group commit), and the request answers only
  once its own entry has its seq. A crash between
  the two leaves the record queued; the next sequencing (any request, any direct append) picks
  it up, so nothing committed is ever left out.

Either way an entry's seq is the tree size when it is added and its time is the clock, but never
earlier than the previous entry's time, so "contiguous seq, non-decreasing time" holds however
transactions race. A direct append drains the queue first: e.g. a phase change to ``closed``
(which waits for in-flight registrations through the campaign row lock) logs after them.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admissions.auditlog.models import LogEntry, LogQueue, LogState
from admissions.clock import rfc3339
from admissions.context import Context
from admissions.errors import InvalidInput

SEQUENCE_BATCH = 2000
MAX_ROUNDS = 50  # sequencer rounds a waiter may wait for its record before failing


@dataclass(frozen=True)
class Appended:
    seq: int
    time: str
    entry: bytes
    size: int
    root: bytes


class _Edge:
    """The tree's right edge and last entry time, restored from ``log_state`` values; adds
    entries in memory (the caller holds the state row's lock and stores the result)."""

    def __init__(self, size: int, hashes: bytes, last_time: str) -> None:
        from audit.merkle import CompactRange

        self.edge = CompactRange(size, [hashes[i : i + 32] for i in range(0, len(hashes), 32)])
        self.last_time = last_time

    def add(
        self,
        ctx: Context,
        kind: str,
        actor: str,
        body: Mapping[str, object],
        now: str | None = None,
    ) -> tuple[int, str, bytes, bytes]:
        """(seq, time, entry bytes, leaf hash) of the next entry; its time is the clock (or
        ``now``, read once for a batch) but never earlier than the previous entry's."""
        from audit.log import entry_bytes
        from audit.merkle import leaf_hash

        time = max(now or rfc3339(ctx.clock()), self.last_time)
        seq = self.edge.size
        entry = entry_bytes(seq, time, kind, actor, body)
        lh = leaf_hash(entry)
        self.edge.append(lh)
        self.last_time = time
        return seq, time, entry, lh

    def hashes(self) -> bytes:
        return b"".join(self.edge.hashes())


class _Tree(_Edge):
    """The locked log state (ORM row) plus its right edge, for one transaction."""

    def __init__(self, state: LogState) -> None:
        super().__init__(state.size, state.hashes, state.last_time)
        self.state = state

    def add_entry(
        self, ctx: Context, kind: str, actor: str, body: Mapping[str, object], queue_id: int | None
    ) -> tuple[LogEntry, str]:
        seq, time, entry, lh = self.add(ctx, kind, actor, body)
        return (
            LogEntry(seq=seq, kind=kind, time=time, entry=entry, leaf_hash=lh, queue_id=queue_id),
            time,
        )

    def store(self) -> None:
        self.state.size = self.edge.size
        self.state.hashes = self.hashes()
        self.state.last_time = self.last_time


async def _lock(session: AsyncSession) -> _Tree:
    state = (
        await session.execute(sa.select(LogState).where(LogState.id == 1).with_for_update())
    ).scalar_one()
    return _Tree(state)


async def _drain(
    session: AsyncSession,
    ctx: Context,
    tree: _Tree,
    out: dict[int, LogEntry] | None = None,
) -> int:
    """Sequence every queued record (in queue order) into the locked tree. Core statements,
    two round trips per batch: ``DELETE ... RETURNING`` takes the batch off the queue, one
    multi-row ``INSERT`` adds the entries (the ORM unit of work cost more than the hashing).
    ``out`` collects the new entries by queue id (the sequencer hands them to its waiters)."""
    import json

    q = cast(sa.Table, LogQueue.__table__)  # typed FromClause by the stubs
    done = 0
    while True:
        batch = sa.select(q.c.id).order_by(q.c.id).limit(SEQUENCE_BATCH).scalar_subquery()
        rows = sorted(
            (
                await session.execute(
                    sa.delete(q)
                    .where(q.c.id.in_(batch))
                    .returning(q.c.id, q.c.kind, q.c.actor, q.c.body)
                )
            ).all()
        )
        if not rows:
            return done
        entries = [
            tree.add_entry(ctx, kind, actor, json.loads(body), qid)[0]
            for qid, kind, actor, body in rows
        ]
        await session.execute(
            sa.insert(cast(sa.Table, LogEntry.__table__)),
            [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "time": e.time,
                    "entry": e.entry,
                    "leaf_hash": e.leaf_hash,
                    "queue_id": e.queue_id,
                }
                for e in entries
            ],
        )
        if out is not None:
            out.update((e.queue_id, e) for e in entries if e.queue_id is not None)
        done += len(rows)
        if len(rows) < SEQUENCE_BATCH:
            return done


async def append(
    session: AsyncSession,
    ctx: Context,
    kind: str,
    actor: str,
    body: Mapping[str, object],
) -> Appended:
    """Append one entry now, in the caller's transaction (after any queued records)."""
    tree = await _lock(session)
    await _drain(session, ctx, tree)
    row, time = tree.add_entry(ctx, kind, actor, body, None)
    session.add(row)
    tree.store()
    await session.flush()
    return Appended(row.seq, time, row.entry, tree.edge.size, tree.edge.root())


_SAFE_LITERAL = re.compile(r"[0-9A-Za-z.:-]+")


def _text(value: str) -> str:
    """A SQL string literal for the service's own kinds and times only (checked charset)."""
    if not _SAFE_LITERAL.fullmatch(value):
        raise ValueError("not a kind or time")
    return f"'{value}'"


def _bytes(value: bytes) -> str:
    return f"decode('{value.hex()}', 'hex')"  # independent of standard_conforming_strings


def append_script(
    ctx: Context,
    records: Sequence[tuple[str, str, Mapping[str, object], int]],
    locked: tuple[int, bytes, str],
) -> tuple[str, list[tuple[int, str, bytes]]]:
    """Append ``records`` (kind, actor, body, record id), in this order, to the tree whose state
    row the caller's transaction has locked (``SELECT size, hashes, last_time FROM log_state
    WHERE id = 1 FOR UPDATE`` on PostgreSQL) and read as ``locked``. Returns one SQL statement
    writing the entries and the new state, and (seq, time, entry) per record.

    The statement carries its values as literals -- integers, hex-decoded bytes, and the
    service's own kinds and times (checked) -- so the caller can send it together with its
    ``COMMIT`` in one simple-protocol round trip, which shortens the time the log lock is held
    (the throughput limit of concurrent batches). Every entry's text (actor, body) is inside the
    hex-encoded entry bytes. The record id links an entry to its row (``log_entries.queue_id``).
    Queued records are left to their sequencers: a batch needs no order relative to them."""
    edge = _Edge(*locked)
    now = rfc3339(ctx.clock())
    out = []
    rows = []
    for kind, actor, body, record_id in records:
        seq, time, entry, lh = edge.add(ctx, kind, actor, body, now)
        out.append((seq, time, entry))
        rows.append(
            f"({int(seq)}, {_text(kind)}, {_text(time)}, {_bytes(entry)}, {_bytes(lh)}, "
            f"{int(record_id)})"
        )
    state = (
        f"UPDATE log_state SET size = {int(edge.edge.size)}, hashes = {_bytes(edge.hashes())}, "
        f"last_time = {_text(edge.last_time)} WHERE id = 1"
    )
    if not rows:
        return state, out
    sql = (
        "WITH e AS (INSERT INTO log_entries (seq, kind, time, entry, leaf_hash, queue_id) "
        f"VALUES {', '.join(rows)}) {state}"
    )
    return sql, out


async def enqueue(session: AsyncSession, kind: str, actor: str, body: Mapping[str, object]) -> int:
    """Queue a log record in the caller's transaction; returns its queue id. The caller must
    await :func:`sequenced` after committing (and gets its entry from it)."""
    from lottery import canonical_json

    q = LogQueue(kind=kind, actor=actor, body=canonical_json(dict(body)))
    session.add(q)
    await session.flush()
    return q.id


class Sequencer:
    """One per engine and event loop: requests that queued a record wait here; a single task
    takes the lock, sequences *everything* queued (other workers' records too), commits, and
    hands each waiter its entry. Under load one lock acquisition serves many requests (group
    commit) instead of every request queueing for the lock."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._waiters: dict[int, asyncio.Future[LogEntry]] = {}
        self._rounds: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, ctx: Context, queue_id: int) -> LogEntry:
        fut: asyncio.Future[LogEntry] = asyncio.get_running_loop().create_future()
        self._waiters[queue_id] = fut
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(ctx))
        return await fut

    async def _run(self, ctx: Context) -> None:
        while self._waiters:
            wanted = list(self._waiters)
            try:
                async with self._sessionmaker() as session, session.begin():
                    tree = await _lock(session)
                    fresh: dict[int, LogEntry] = {}
                    if await _drain(session, ctx, tree, fresh):
                        tree.store()
                    await session.flush()
                    rows = [fresh[qid] for qid in wanted if qid in fresh]
                    # Records sequenced earlier (by another worker's sequencer or a direct
                    # append) are read back; in the common case every waiter's is fresh.
                    older = [qid for qid in wanted if qid not in fresh]
                    if older:
                        rows += (
                            await session.execute(
                                sa.select(LogEntry).where(LogEntry.queue_id.in_(older))
                            )
                        ).scalars()
            except Exception as exc:  # every waiter of this round gets the error (a 500)
                for qid in wanted:
                    fut = self._waiters.pop(qid, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                continue
            for row in rows:
                fut = self._waiters.pop(row.queue_id, None)  # type: ignore[arg-type]
                self._rounds.pop(row.queue_id, None)  # type: ignore[arg-type]
                if fut is not None and not fut.done():
                    fut.set_result(row)
            # A record committed while a round ran shows up in the next one; one that never
            # shows up (it cannot, short of a lost commit) must not keep the loop spinning.
            for qid in list(self._waiters):
                self._rounds[qid] = self._rounds.get(qid, 0) + 1
                if self._rounds[qid] > MAX_ROUNDS:
                    fut = self._waiters.pop(qid)
                    del self._rounds[qid]
                    if not fut.done():
                        fut.set_exception(RuntimeError(f"log record {qid} was never sequenced"))


_SEQUENCERS: weakref.WeakKeyDictionary[Any, dict[int, Sequencer]] = weakref.WeakKeyDictionary()


async def sequenced(session: AsyncSession, ctx: Context, queue_id: int) -> LogEntry:
    """After committing a queued record: wait until it is in the tree; return its entry."""
    engine = session.bind
    loops = _SEQUENCERS.setdefault(engine, {})
    loop_id = id(asyncio.get_running_loop())
    seq = loops.get(loop_id)
    if seq is None:
        seq = loops[loop_id] = Sequencer(async_sessionmaker(engine, expire_on_commit=False))
    return await seq.wait(ctx, queue_id)


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


async def signed_checkpoint_with_leaves(
    session: AsyncSession, ctx: Context
) -> tuple[str, list[bytes]]:
    """A signed checkpoint and the leaf hashes of exactly the entries it covers (one snapshot)."""
    from audit.checkpoint import sign_checkpoint

    async with session.begin():
        state = (await session.execute(sa.select(LogState).where(LogState.id == 1))).scalar_one()
        leaves = [
            h
            for (h,) in await session.execute(
                sa.select(LogEntry.leaf_hash)
                .where(LogEntry.seq < state.size)
                .order_by(LogEntry.seq)
            )
        ]
    tree = _Tree(state)
    cp = sign_checkpoint(
        ctx.settings.log_origin, tree.edge.size, tree.edge.root(), ctx.settings.log_signing_key
    )
    return cp, leaves


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
