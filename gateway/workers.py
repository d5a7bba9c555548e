"""Several gateway processes on one listening socket, for more than one core.

The parent opens the socket, brings the store's schema up to date, then forks the
workers, which each run a whole gateway on the inherited socket: the kernel hands each
new connection to one of them. A worker that dies is started again; SIGTERM or SIGINT
to the parent stops them all. Nothing is shared between workers but the store, exactly
as between gateway nodes, so a worker's death loses no acknowledged mail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

from gateway.config import GatewayConfig

log = logging.getLogger(__name__)


def serve_workers(config: GatewayConfig,
                  run_worker: Callable[[GatewayConfig, socket.socket, int], int]) -> int:
    from quarantine.store import open_store

    async def upgrade() -> None:
        store = await open_store(config.store.url)
        await store.close()

    asyncio.run(upgrade())  # once, before any worker opens the store
    c = config.server
    sock = socket.create_server((c.listen_host, c.listen_port), backlog=1024,
                                reuse_port=False)
    n = c.workers
    # Each worker enforces its share of the session limits.
    share = {"max_sessions": max(1, c.max_sessions // n),
             "max_sessions_per_client": max(1, c.max_sessions_per_client // n),
             "max_messages_in_flight": max(1, c.max_messages_in_flight // n)}
    worker_config = config.model_copy(update={"server": c.model_copy(update=share)})
    children: dict[int, int] = {}
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(worker_config, sock, index) or 0
            finally:
                os._exit(code)
        children[pid] = index

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for i in range(n):
        spawn(i)
    print(f"aupgate: {n} workers on {c.listen_host}:{sock.getsockname()[1]}", flush=True)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, None)
        if index is not None and not stopping:
            log.error("worker %d (pid %d) exited with %s; starting it again", index, pid,
                      os.waitstatus_to_exitcode(status))
            time.sleep(1)
            spawn(index)
    return 0
