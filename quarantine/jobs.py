"""Background jobs: a loop that does one pass of work against the store now and then.

A job is stopped between passes, never cancelled in the middle of one. A pass cancelled
while it awaits the database leaves SQLAlchemy to invalidate and close that connection;
with aiosqlite 0.22 a second cancellation during that close (asyncio.run cancels every
task still running when the gateway returns) leaves a close that never completes, and
the process hangs on SIGTERM until it is killed (SQLAlchemy #13039, aiosqlite #369).
Seen in the relay tests: about one stop in ten right after a message ran to the 10 s
grace and a SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# How long `stop` lets a pass under way run on before cancelling it: a pass is a few
# queries, or a few deliveries each bounded by the delivery timeout.
STOP_GRACE = 30.0


class PeriodicJob:
    """Runs `one_pass` at once and then every `interval` seconds until `stop`. A pass that
    raises is logged and the job goes on."""

    def __init__(self, name: str, one_pass: Callable[[], Awaitable[object]],
                 interval: float) -> None:
        self.name = name
        self.one_pass = one_pass
        self.interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.one_pass()
            except Exception:  # noqa: BLE001 - keep the job alive; the log says what failed
                log.exception("%s: a pass failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let the pass under way finish, then end the job; cancel it after `grace`
        seconds, and wait for that too (the connection it holds is closed meanwhile)."""
        self._stopping.set()
        await stop_task(self._task, grace)


async def stop_task(task: asyncio.Task | None, grace: float) -> None:
    """Wait up to `grace` seconds for `task` to end by itself (it has been told to stop),
    then cancel it and wait until it has ended."""
    if task is None or task.done():
        return
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("%s did not stop within %.0f s; cancelling it", task.get_name(), grace)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
