"""The INSTREAM client against a real clamd, and against servers that misbehave."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from pathlib import Path

import pytest

from gateway.attachments.clamav import (
    ClamdClient,
    ClamdError,
    TooLargeToScan,
    parse_address,
    parse_reply,
)
from tests.attachments.clamd import EICAR, Clamd, KillingProxy, available


def test_parse_address():
    assert parse_address("unix:/run/clamav/clamd.ctl") == ("unix", "/run/clamav/clamd.ctl")
    assert parse_address("tcp:10.0.0.5:3310") == ("tcp", ("10.0.0.5", 3310))
    assert parse_address("tcp:clamav.internal") == ("tcp", ("clamav.internal", 3310))
    for bad in ("", "clamd:3310", "unix:relative.sock", "tcp:", "tcp:h:99999"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_parse_reply():
    assert not parse_reply(b"stream: OK\0").infected
    found = parse_reply(b"stream: Eicar-Test-Signature FOUND\0")
    assert found.infected and found.signature == "Eicar-Test-Signature"
    assert parse_reply(b"1: stream: OK\0").infected is False
    for garbage in (b"INSTREAM size limit exceeded. ERROR\0", b"stream: FOUND\0", b"PONG\0",
                    b"stream: maybe\0", b"\0", b"\xff\xfe"):
        with pytest.raises(ClamdError):
            parse_reply(garbage)


async def test_real_clamd_found_ok_and_version(clamd):
    client = ClamdClient(clamd.address)
    await client.ping()
    assert "ClamAV" in await client.version()
    assert (await client.instream(EICAR)).infected
    assert not (await client.instream(b"just text")).infected
    assert not (await client.instream(b"")).infected
    # Concurrent scans share the client; chunking across many small chunks works.
    small = ClamdClient(clamd.address, chunk_size=7, max_concurrent=3)
    results = await asyncio.gather(*(small.instream(EICAR if i % 2 else b"x" * 1000)
                                     for i in range(8)))
    assert [r.infected for r in results] == [bool(i % 2) for i in range(8)]


async def test_over_the_cap_is_not_sent(clamd):
    client = ClamdClient(clamd.address, max_stream_bytes=1024)
    with pytest.raises(TooLargeToScan):
        await client.instream(b"x" * 1025)


async def test_clamd_stream_limit_answer_is_an_error_not_a_pass(tmp_path):
    """A cap set above clamd's StreamMaxLength (a misconfiguration) still never passes."""
    if not available():
        pytest.skip("clamd not installed")
    with Clamd(tmp_path / "c", stream_max_length="1M") as small:
        client = ClamdClient(small.address, max_stream_bytes=8 * 1024 * 1024)
        with pytest.raises(ClamdError):
            await client.instream(os.urandom(3 * 1024 * 1024))


async def test_tcp(tmp_path):
    if not available():
        pytest.skip("clamd not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Clamd(tmp_path / "c", tcp_port=port) as server:
        client = ClamdClient(server.tcp_address)
        assert (await client.instream(EICAR)).infected


async def test_nobody_listening(tmp_path):
    with pytest.raises(ClamdError):
        await ClamdClient(f"unix:{tmp_path}/none.sock").instream(b"x")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]           # closed again: connection refused
    with pytest.raises(ClamdError):
        await ClamdClient(f"tcp:127.0.0.1:{port}").instream(b"x")


async def _fake_clamd(path: Path, handler) -> asyncio.AbstractServer:
    async def serve(reader, writer):
        try:
            await handler(reader, writer)
        finally:
            writer.close()
    return await asyncio.start_unix_server(serve, path=str(path))


async def _swallow_stream(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\0")
    while True:
        (n,) = struct.unpack("!I", await reader.readexactly(4))
        if n == 0:
            return
        await reader.readexactly(n)


@pytest.mark.parametrize("answer", [b"stream: what\0", b"HELLO\0", b"", b"stream: OK"])
async def test_garbage_or_no_answer_is_an_error(tmp_path, answer):
    async def handler(reader, writer):
        await _swallow_stream(reader)
        writer.write(answer)
        await writer.drain()

    server = await _fake_clamd(tmp_path / "fake.sock", handler)
    async with server:
        with pytest.raises(ClamdError):
            await ClamdClient(f"unix:{tmp_path}/fake.sock", timeout=2).instream(b"data" * 1000)


async def test_a_clamd_that_never_answers_times_out(tmp_path):
    async def handler(reader, writer):
        await _swallow_stream(reader)
        await asyncio.sleep(30)

    server = await _fake_clamd(tmp_path / "slow.sock", handler)
    async with server:
        client = ClamdClient(f"unix:{tmp_path}/slow.sock", timeout=0.3)
        with pytest.raises(ClamdError, match="did not answer"):
            await client.instream(b"data")


async def test_a_clamd_that_stops_reading_times_out(tmp_path):
    """Back-pressure: a server that never reads must not let the client buffer forever."""
    async def handler(reader, writer):
        await asyncio.sleep(30)

    server = await _fake_clamd(tmp_path / "stuck.sock", handler)
    async with server:
        client = ClamdClient(f"unix:{tmp_path}/stuck.sock", timeout=0.5)
        with pytest.raises(ClamdError):
            await client.instream(os.urandom(8 * 1024 * 1024))


async def test_clamd_killed_mid_stream(private_clamd, tmp_path):
    async with KillingProxy(private_clamd, tmp_path / "proxy.sock") as proxy:
        client = ClamdClient(proxy.address, timeout=10)
        with pytest.raises(ClamdError) as err:
            await client.instream(os.urandom(6 * 1024 * 1024))
    assert proxy.killed.is_set(), err.value
