from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get
from litestar.params import QueryParameter

from admissions.auditlog import service
from admissions.deps import DB, Ctx


class EntryOut(msgspec.Struct):
    seq: int
    entry: str  # the exact RFC 8785 text that is hashed into the tree


class EntriesOut(msgspec.Struct):
    entries: list[EntryOut]
    start: int


class LogController(Controller):
    path = "/log"
    tags = ("log",)

    @get(
        "/checkpoint", operation_id="logCheckpoint", exclude_from_auth=True, media_type="text/plain"
    )
    async def checkpoint(self, session: DB, ctx: Ctx) -> Response[str]:
        """The current signed checkpoint (C2SP tlog-checkpoint signed note)."""
        return Response(
            await service.signed_checkpoint(session, ctx), media_type="text/plain; charset=utf-8"
        )

    @get("/entries", operation_id="logEntries", exclude_from_auth=True)
    async def entries(
        self,
        session: DB,
        start: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> EntriesOut:
        rows = await service.entries(session, start, limit)
        return EntriesOut([EntryOut(r.seq, r.entry.decode()) for r in rows], start)
