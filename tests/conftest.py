"""Shared fixtures: store backends, a real downstream SMTP server, a running gateway.

Everything here is the real thing: the gateway and the downstream run as separate
processes speaking SMTP over loopback, and the store is SQLite or the PostgreSQL at
127.0.0.1:5432 (`AUPGATE_TEST_BACKENDS=sqlite` skips PostgreSQL on a laptop without it).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest

from gateway.localdns import ZoneServer
from tests.attachments.clamd import Clamd
from tests.attachments.clamd import available as clamd_available
from tests.support import (
    ROOT,
    SHARED,
    GatewayProcess,
    SinkProcess,
    create_pg_database,
    drop_pg_database,
    free_port,
    import_directory,
    write_config,
)

BACKENDS = [b for b in os.environ.get("AUPGATE_TEST_BACKENDS", "sqlite,postgresql").split(",")
            if b]


def pytest_report_header(config):
    return [f"aupgate store backends: {', '.join(BACKENDS)}", f"shared data: {SHARED}"]


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    """A fresh, empty store URL for one test, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'aupgate.db'}"
        return
    name = f"aupgate_test_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(create_pg_database(name))
    yield url
    asyncio.run(drop_pg_database(name))


@pytest.fixture(scope="session")
def dns_server():
    """A real DNS server on 127.0.0.1 for every gateway the tests run: no lookup ever
    leaves the machine. It starts empty (every name NXDOMAIN); tests add the records
    they need, under names of their own."""
    server = ZoneServer(ttl=300).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def clamd(tmp_path_factory):
    """One real clamd for the session, with a signature database built by sigtool
    (it starts in well under a second)."""
    if not clamd_available():
        pytest.fail("clamd/sigtool not installed: scripts/install-test-deps installs them")
    with Clamd(tmp_path_factory.mktemp("clamd")) as server:
        yield server


@pytest.fixture
def private_clamd(tmp_path):
    """A clamd of this test's own, for tests that kill it."""
    if not clamd_available():
        pytest.fail("clamd/sigtool not installed: scripts/install-test-deps installs them")
    server = Clamd(tmp_path / "clamd").start()
    yield server
    server.stop()


@pytest.fixture
def sink(tmp_path):
    process = SinkProcess(tmp_path / "downstream")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def gateway_factory(tmp_path, store_url, sink, dns_server):
    """Start gateways with config overrides: `gateway_factory(**{"server.max_recipients": 3})`."""
    started: list[GatewayProcess] = []

    def start(directory: bool = True, **overrides) -> GatewayProcess:
        port = free_port()
        settings = {
            "server.listen_port": port,
            "relay.downstream": f"127.0.0.1:{sink.port}",
            "relay.smarthost": f"127.0.0.1:{sink.port}",
            "store.url": store_url,
            "checks.auth.nameservers": [dns_server.address],
            "web.enabled": False,   # tests that want the review app set web.listen themselves
        }
        settings.update(overrides)
        config = write_config(tmp_path / f"gateway-{len(started)}.toml", settings)
        if directory:
            asyncio.run(import_directory(store_url, ROOT / "config" / "directory.sample.csv"))
        process = GatewayProcess(config, port, tmp_path)
        process.start()
        started.append(process)
        return process

    yield start
    hung = []
    for process in started:
        try:
            process.stop()
        except AssertionError as e:     # stop the others first
            hung.append(e)
    if hung:
        raise hung[0]


@pytest.fixture
def gateway(gateway_factory):
    return gateway_factory()


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED
