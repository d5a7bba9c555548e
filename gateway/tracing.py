"""The trace of every message, written off the reply path in small batches.

A trace is the record of what happened, not the mail: losing the last few on a crash
costs history, never a message. So delivered and refused mail is answered first and
traced after; held mail is traced in the same transaction as the hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from quarantine.jobs import STOP_GRACE, stop_task
from quarantine.store import Store
from quarantine.store.held import new_id
from quarantine.store.models import KeptMessage, Trace

log = logging.getLogger(__name__)


class TraceWriter:
    def __init__(self, store: Store, batch: int = 200) -> None:
        self.store = store
        self.batch = batch
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="trace-writer")

    def add(self, kept_raw: bytes | None = None, **fields: Any) -> None:
        """Queue a trace; with `kept_raw`, the delivered bytes are kept beside it."""
        if kept_raw is not None:
            fields["_kept_raw"] = kept_raw
        try:
            self.queue.put_nowait(fields)
        except asyncio.QueueFull:
            log.warning("trace queue full; dropped the trace of %s", fields.get("message_id"))

    async def _run(self) -> None:
        # until closing, and then until what was queued before is written
        while not (self._closing and self.queue.empty()):
            items = [await self.queue.get()]
            while len(items) < self.batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
            items = [fields for fields in items if fields is not _WAKE]
            if items:
                await self._write(items)

    async def _write(self, items: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        rows, kept = [], []
        for fields in items:
            raw = fields.pop("_kept_raw", None)
            row = {"id": new_id(), "received_at": now, **fields}
            rows.append(row)
            if raw is not None:
                kept.append({"trace_id": row["id"], "kept_at": now, "raw": raw,
                             "sha256": row.get("sha256", "")})
        try:
            # One executemany in Core: the ORM's per-object work would hold the event
            # loop for tens of milliseconds on a large batch.
            async with self.store.transaction() as session:
                await session.execute(insert(Trace), rows)
                if kept:
                    await session.execute(insert(KeptMessage), kept)
        except Exception:  # noqa: BLE001 - history is best effort; mail is not affected
            log.exception("could not write %d trace(s)", len(items))

    async def close(self) -> None:
        """Write what is queued and stop: the writer is told to stop, not cancelled, so
        that no write is cut off in the middle (see quarantine.jobs)."""
        self._closing = True
        with contextlib.suppress(asyncio.QueueFull):     # a full queue wakes it anyway
            self.queue.put_nowait(_WAKE)
        await stop_task(self._task, STOP_GRACE)
        # never started, or cut short after the grace
        items = [fields for fields in _drain(self.queue) if fields is not _WAKE]
        if items:
            await self._write(items)


# Put on the queue by `close`, so that a writer waiting for a trace sees that it is closing.
_WAKE: dict[str, Any] = {}


def _drain(queue: asyncio.Queue):
    while not queue.empty():
        yield queue.get_nowait()
