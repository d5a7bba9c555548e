"""Running the app in-process: beside the relay (`aupgate serve`) or alone (`aupgate web`).

`start_web` runs uvicorn as a task on the caller's event loop and returns a handle with
`async stop()`. Signals stay with the caller (the gateway installs its own handlers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import uvicorn

from quarantine.jobs import PeriodicJob
from quarantine.store import Store
from quarantine.web.app import create_app
from quarantine.web.settings import Site, host_port, load_settings

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the gateway owns SIGINT/SIGTERM
        yield


class WebServer:
    def __init__(self, server: _Server, task: asyncio.Task, housekeeping: PeriodicJob | None,
                 url: str) -> None:
        self.server, self.task, self.housekeeping, self.url = server, task, housekeeping, url

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.housekeeping:
            await self.housekeeping.stop()
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, 10)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()


async def start_web(web: dict[str, Any] | None, store: Store, *, retention_days: int = 90,
                    local_domains: list[str] | tuple[str, ...] = (),
                    housekeeping: bool = False) -> WebServer | None:
    """Start the review app if `[web] enabled`; None when it is switched off.

    `housekeeping`: also purge expired bodies every few minutes (for `aupgate web`
    alone; the relay's own housekeeping does it when they run together).
    """
    settings = load_settings(web)
    if not settings.enabled:
        return None
    site = Site(retention_days=retention_days,
                local_domains=tuple(d.lower() for d in local_domains))
    app = create_app(settings, store, site)
    host, port = host_port(settings.listen)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        server_header=False, date_header=True,
        ssl_certfile=settings.tls_cert_file or None, ssl_keyfile=settings.tls_key_file or None)
    try:
        sock = _bind(host, port)
    except OSError as e:
        # The relay must keep answering mail even when the review app cannot listen.
        log.error("the review app cannot listen on %s: %s; the relay runs without it",
                  settings.listen, e)
        return None
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it (e.g. the port is taken)
            raise RuntimeError("the web app stopped while starting")
        await asyncio.sleep(0.02)
    scheme = "https" if settings.tls else "http"
    url = f"{scheme}://{host}:{server.servers[0].sockets[0].getsockname()[1]}"
    log.info("review app on %s", url)
    job = None
    if housekeeping:
        job = PeriodicJob("web-housekeeping", lambda: _purge(store, retention_days), 300)
        job.start()
    return WebServer(server, task, job, url)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


async def _purge(store: Store, retention_days: int) -> None:
    from quarantine.store.held import purge_expired

    async with store.transaction() as session:
        await purge_expired(session, retention_days)
