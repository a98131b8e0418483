"""Group commit of registrations on PostgreSQL (the fast path of ``service.register_new_session``).

Theory of operation. A registration that passed every check the request itself can make (ID
number, age, choices and claims against the cached campaign rules and schools) and has been
sealed (encrypted record, salt, digest, log body) is handed to its process's
:class:`RegistrationBatcher` and waits. The batcher writes everything waiting in one
transaction on one pooled connection (raw asyncpg, no ORM), three round trips whatever the
batch size:

1. ``BEGIN``;
2. one statement, in this order: lock the batch's campaigns ``FOR SHARE`` where they are open
   and inside their window (as the ORM path does, so a phase change waits for the batch);
   insert the applications of those campaigns with ``ON CONFLICT (campaign_id, active_index) DO
   NOTHING`` -- each inserted row gets a record id from the log queue's id sequence
   (``log_queue_id``, linking the application to its log entry); then, once every insert is
   done, lock the log state row ``FOR UPDATE`` and read it (the same lock order as a phase
   change: campaign, then log state);
3. one ``registration`` entry per inserted row, in arrival order, and the new tree state
   (:func:`admissions.auditlog.service.append_script`, one statement), sent together with
   ``COMMIT``: the log lock is held for this one round trip.

Only then does each request get its answer: its entry (a 201 is sent only after the commit that
made the application and its log entry durable, together); ``DUPLICATE`` when its row was not
inserted because the child already has an active application in that campaign (or the same
child came twice in the batch: the first one wins) -> the same 409 as the ORM path; or
``FALLBACK`` when its campaign was not open or outside the window -- the request then takes the
ORM path, which raises the precise error. A batch that PostgreSQL refuses as a whole (e.g. a
deadlock, an application-number collision) rolled back, and every request in it takes the ORM
path on its own, so one bad row cannot fail the others; a lost connection fails the batch's
requests (500), as it would fail a single one.

While one batch is being written the next one gathers (no timer): under load a batch holds
about as many registrations as arrived during one write, at low load it holds one and costs
what a single registration would. Rows are inserted sorted by (campaign, blind index), so two
batches never wait for each other's uniqueness checks in opposite orders.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from admissions.auditlog.service import append_script
from admissions.context import Context

log = logging.getLogger("paiwei.admissions")

MAX_BATCH = 500  # registrations per transaction (bounds the log lock's hold time)
WRITERS = 2  # batches in flight per process: one holding the log lock, the next queued on it

_INSERT = """\
WITH c AS (
  SELECT id FROM campaigns
  WHERE id = ANY($1::varchar[]) AND phase = 'open' AND open_at <= $2 AND close_at > $2
  FOR SHARE
), ins AS (
  INSERT INTO applications (
    number, campaign_id, parent_id, district, status, active_index, group_id, choices, claims,
    personal, record_sha256, review_status, review_reason, appeal_status, appeal, log_queue_id,
    created_at, updated_at)
  SELECT u.number, u.campaign_id, u.parent_id, u.district, 'active', u.active_index, NULL,
    u.choices::json, u.claims::json, u.personal, u.record_sha256, 'pending', NULL, 'none', NULL,
    nextval('log_queue_id_seq'), $2, $2
  FROM unnest($3::varchar[], $4::varchar[], $5::integer[], $6::varchar[], $7::varchar[],
    $8::text[], $9::text[], $10::bytea[], $11::varchar[])
    AS u(number, campaign_id, parent_id, district, active_index, choices, claims, personal,
      record_sha256)
  WHERE u.campaign_id IN (SELECT id FROM c)
  ON CONFLICT (campaign_id, active_index) DO NOTHING
  RETURNING number, log_queue_id
), s AS (
  SELECT size, hashes, last_time FROM log_state
  WHERE id = 1 AND (SELECT count(*) FROM ins) >= 0
  FOR UPDATE
)
SELECT 'a', number, log_queue_id, NULL::bytea, NULL::varchar FROM ins
UNION ALL
SELECT 'c', id, NULL, NULL, NULL FROM c
UNION ALL
SELECT 's', NULL, size, hashes, last_time FROM s"""


@dataclass(eq=False)
class Registration:
    """A checked, sealed registration waiting for its batch."""

    number: str
    campaign_id: str
    parent_id: int
    district: str
    active_index: str
    choices: Any  # JSON-ready
    claims: Any
    personal: bytes
    record_sha256: str
    actor: str
    body: dict[str, Any]  # the log entry's body
    done: asyncio.Future[Written | str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class Written:
    """A committed registration: its log entry and the time the batch stamped it with."""

    seq: int
    time: str
    entry: bytes
    at: datetime


DUPLICATE = "duplicate"  # the child already has an active application in the campaign
FALLBACK = "fallback"  # campaign not open / outside its window, or the batch was refused


class Unsent(Exception):
    """The batch failed before its COMMIT was sent (e.g. on a dead connection): nothing of it
    is stored, so each registration can safely go the one-by-one way."""


class RegistrationBatcher:
    """One per engine and event loop (:func:`batcher`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[Registration] = []
        self._active = 0  # writers running (counted down before their task ends)
        self._tasks: set[asyncio.Task[None]] = set()  # strong references

    async def submit(self, ctx: Context, reg: Registration) -> Written | str:
        """Wait until ``reg`` is committed (:class:`Written`) or refused (``DUPLICATE``,
        ``FALLBACK``)."""
        self._waiting.append(reg)
        if not self._active:
            self._start(ctx)
        return await reg.done

    def _start(self, ctx: Context) -> None:
        self._active += 1
        task = asyncio.create_task(self._run(ctx))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _locked(self, ctx: Context) -> None:
        """A batch holds the log lock: the next batch may start now (its BEGIN and inserts
        overlap this one's commit, and it waits for the lock inside PostgreSQL)."""
        if self._waiting and self._active < WRITERS:
            self._start(ctx)

    async def _run(self, ctx: Context) -> None:
        import asyncpg

        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    results = await self._write(ctx, batch)
                except (asyncpg.PostgresError, Unsent) as exc:  # nothing committed: each alone
                    # type and SQLSTATE only: the message could quote a row's values
                    log.warning(
                        "registration batch of %d refused (%s, SQLSTATE %s): retried one by one",
                        len(batch), type(exc).__name__, getattr(exc, "sqlstate", "-"),
                    )  # fmt: skip
                    results = [FALLBACK] * len(batch)
                except BaseException as exc:  # e.g. a lost connection: outcome unknown
                    for reg in batch:
                        if not reg.done.done():
                            reg.done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    results = []
                for reg, result in zip(batch, results, strict=False):
                    if not reg.done.done():
                        reg.done.set_result(result)
                if self._active > 1:  # the other writer goes on (and starts the next)
                    return
        finally:
            # no await between the last check of ``_waiting`` and this: a registration
            # submitted from now on starts a writer of its own
            self._active -= 1

    async def _write(self, ctx: Context, batch: list[Registration]) -> list[Written | str]:
        import asyncpg

        at = ctx.clock()
        naive = at.astimezone(UTC).replace(tzinfo=None)  # UTCDateTime stores naive UTC
        rows = sorted(batch, key=lambda r: (r.campaign_id, r.active_index))
        cols = (
            [r.number for r in rows],
            [r.campaign_id for r in rows],
            [r.parent_id for r in rows],
            [r.district for r in rows],
            [r.active_index for r in rows],
            [json.dumps(r.choices) for r in rows],
            [json.dumps(r.claims) for r in rows],
            [r.personal for r in rows],
            [r.record_sha256 for r in rows],
        )
        campaigns = sorted({r.campaign_id for r in rows})
        async with self._engine.connect() as sa_conn:
            conn = (await sa_conn.get_raw_connection()).driver_connection
            assert conn is not None
            committing = False
            try:
                await conn.execute("BEGIN")
                inserted: dict[str, int] = {}
                open_: set[str] = set()
                state: tuple[int, bytes, str] | None = None
                for what, key, n, hashes, last_time in await conn.fetch(
                    _INSERT, campaigns, naive, *cols
                ):
                    if what == "a":
                        inserted[key] = n
                    elif what == "c":
                        open_.add(key)
                    else:
                        state = (n, hashes, last_time)
                assert state is not None
                self._locked(ctx)
                logged = [r for r in batch if r.number in inserted]
                sql, entries = append_script(
                    ctx,
                    [("registration", r.actor, r.body, inserted[r.number]) for r in logged],
                    state,
                )
                # entries, state and COMMIT in one round trip (simple query protocol)
                committing = True
                await conn.execute(sql + "; COMMIT")
            except asyncpg.PostgresError:  # the server refused: nothing is committed
                if conn.is_in_transaction():
                    await conn.execute("ROLLBACK")
                raise
            except BaseException:
                # A broken connection (server restart, failover, idle timeout): SQLAlchemy does
                # not see errors on the raw driver connection, so drop it from the pool here.
                await sa_conn.invalidate()
                if committing:
                    raise  # the COMMIT may or may not have happened: outcome unknown
                raise Unsent from None
        by_number = {
            r.number: Written(seq, time, entry, at)
            for r, (seq, time, entry) in zip(logged, entries, strict=True)
        }
        return [
            by_number.get(r.number) or (DUPLICATE if r.campaign_id in open_ else FALLBACK)
            for r in batch
        ]


_BATCHERS: weakref.WeakKeyDictionary[AsyncEngine, dict[int, RegistrationBatcher]] = (
    weakref.WeakKeyDictionary()
)


def batcher(engine: AsyncEngine) -> RegistrationBatcher:
    """The batcher of ``engine`` on the running event loop."""
    loops = _BATCHERS.setdefault(engine, {})
    loop_id = id(asyncio.get_running_loop())
    b = loops.get(loop_id)
    if b is None:
        b = loops[loop_id] = RegistrationBatcher(engine)
    return b
