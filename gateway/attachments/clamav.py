"""A small asyncio client of clamd's INSTREAM protocol, over a unix socket or TCP.

Why not the `clamd` package from PyPI: it is synchronous (a scan would stall the
event loop, and with it every SMTP session), it has not been maintained since 2014,
and it writes chunks with `socket.send`, which may send only part of a chunk and
silently corrupt the stream. The protocol is small enough to own:

    client: b"zINSTREAM\\0"
    client: <4-byte big-endian length><chunk>   (repeated)
    client: b"\\0\\0\\0\\0"                        (end of stream)
    clamd:  b"stream: OK\\0" | b"stream: <signature> FOUND\\0" | b"<reason> ERROR\\0"

Every failure (cannot connect, timed out, connection dropped, an answer that is not
one of the above) raises `ClamdError`: the caller turns it into a finding, never a
pass. Bytes over `max_stream_bytes` raise `TooLargeToScan` before anything is sent;
that bound must sit below clamd's `StreamMaxLength`, or clamd cuts the stream and
answers "INSTREAM size limit exceeded".
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass

from gateway.config import parse_host_port

DEFAULT_CHUNK = 64 * 1024


class ClamdError(Exception):
    """clamd is down, too slow, or answered something that is not a verdict."""


class TooLargeToScan(Exception):
    """The bytes are larger than the configured stream cap; nothing was sent."""


@dataclass(frozen=True)
class ScanResult:
    infected: bool
    signature: str | None
    reply: str


def parse_address(address: str) -> tuple[str, str | tuple[str, int]]:
    """`unix:/run/clamav/clamd.ctl` or `tcp:host:port` -> ("unix", path) | ("tcp", (host, port))."""
    kind, sep, rest = address.partition(":")
    if sep and kind == "unix" and rest.startswith("/"):
        return "unix", rest
    if sep and kind == "tcp" and rest:
        host, port = parse_host_port(rest, default_port=3310)
        return "tcp", (host, port)
    raise ValueError(f"{address!r} is not unix:/path or tcp:host:port")


def parse_reply(raw: bytes) -> ScanResult:
    """Turn clamd's answer to INSTREAM into a result, or raise ClamdError."""
    text = raw.rstrip(b"\0").decode("utf-8", "replace").strip()
    # With IDSESSION clamd prefixes "<id>: "; we never use it, but accept it.
    body = text.split(": ", 1)[1] if text[:1].isdigit() and ": " in text else text
    if not body.startswith("stream: "):
        raise ClamdError(f"clamd answered {text[:200]!r}")
    verdict = body[len("stream: "):]
    if verdict == "OK":
        return ScanResult(False, None, text)
    if verdict.endswith(" FOUND") and len(verdict) > len(" FOUND"):
        return ScanResult(True, verdict[: -len(" FOUND")], text)
    raise ClamdError(f"clamd answered {text[:200]!r}")


class ClamdClient:
    def __init__(
        self,
        address: str,
        *,
        connect_timeout: float = 5.0,
        timeout: float = 60.0,
        chunk_size: int = DEFAULT_CHUNK,
        max_stream_bytes: int = 20 * 1024 * 1024,
        max_concurrent: int = 4,
    ) -> None:
        self.address = address
        self.kind, self.target = parse_address(address)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.max_stream_bytes = max_stream_bytes
        # clamd has a fixed pool of threads (MaxThreads); queueing here keeps a burst
        # of messages from timing out inside clamd's own queue instead.
        self._slots = asyncio.Semaphore(max_concurrent)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.kind == "unix":
                    return await asyncio.open_unix_connection(self.target)  # type: ignore[arg-type]
                host, port = self.target  # type: ignore[misc]
                return await asyncio.open_connection(host, port)
        except TimeoutError:
            raise ClamdError(f"connecting to clamd at {self.address} timed out") from None
        except OSError as exc:
            raise ClamdError(f"cannot connect to clamd at {self.address}: {exc}") from None

    async def _command(self, command: bytes) -> bytes:
        async with self._slots:
            reader, writer = await self._connect()
            try:
                async with asyncio.timeout(self.timeout):
                    writer.write(b"z" + command + b"\0")
                    await writer.drain()
                    return await _read_reply(reader)
            except TimeoutError:
                raise ClamdError(f"clamd at {self.address} did not answer in time") from None
            except OSError as exc:
                raise ClamdError(f"clamd at {self.address} dropped the connection: {exc}") from None
            finally:
                await _close(writer)

    async def ping(self) -> None:
        reply = await self._command(b"PING")
        if reply.rstrip(b"\0") != b"PONG":
            raise ClamdError(f"clamd answered {reply[:200]!r} to PING")

    async def version(self) -> str:
        return (await self._command(b"VERSION")).rstrip(b"\0").decode("utf-8", "replace")

    async def instream(self, data: bytes) -> ScanResult:
        """Scan `data`; ScanResult on a verdict, ClamdError on anything else."""
        if len(data) > self.max_stream_bytes:
            raise TooLargeToScan(f"{len(data)} bytes is over the {self.max_stream_bytes}-byte scan cap")
        async with self._slots:
            reader, writer = await self._connect()
            try:
                async with asyncio.timeout(self.timeout):
                    try:
                        await self._send_stream(writer, data)
                    except OSError:
                        # clamd closes early when it refuses the stream (size limit);
                        # its reason, if it sent one, is still in the reader.
                        pass
                    raw = await _read_reply(reader)
            except TimeoutError:
                raise ClamdError(f"clamd at {self.address} did not answer within "
                                 f"{self.timeout:g}s") from None
            except OSError as exc:
                raise ClamdError(f"clamd at {self.address} dropped the connection: {exc}") from None
            finally:
                await _close(writer)
        return parse_reply(raw)

    async def _send_stream(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(b"zINSTREAM\0")
        view = memoryview(data)
        for start in range(0, len(view), self.chunk_size):
            chunk = view[start:start + self.chunk_size]
            writer.write(struct.pack("!I", len(chunk)))
            writer.write(chunk)
            # drain() waits until the transport has taken everything: the asyncio
            # counterpart of sendall, and the back-pressure a slow clamd needs.
            await writer.drain()
        writer.write(b"\0\0\0\0")
        await writer.drain()


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\0")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ClamdError(f"clamd answered {exc.partial[:200]!r} and closed") from None
        raise ClamdError("clamd closed the connection without an answer") from None
    except asyncio.LimitOverrunError:
        raise ClamdError("clamd's answer is too long to be a verdict") from None


async def _close(writer: asyncio.StreamWriter) -> None:
    # abort(), not close(): close() waits to flush what is still buffered, and a clamd
    # that stopped reading would then hold this coroutine (and the SMTP client) forever.
    writer.transport.abort()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1):
            await writer.wait_closed()
