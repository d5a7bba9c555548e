"""Attachment check throughput, against clamd scanning the same bytes directly.

    python -m bench.attachments                 # starts its own clamd (tiny local DB)
    python -m bench.attachments --clamd unix:/run/clamav/clamd.ctl --seconds 5

For each attachment size (100 KB and 2 MB) and kind (random binary; the same bytes
in a zip), one run measures, sequentially (one message at a time, like one SMTP
session):

  clamd      INSTREAM of the attachment's bytes straight to clamd (our client);
  check      the whole attachments check on a freshly parsed message: libmagic,
             banned kinds, names, archive walk, macros, and the clamd scan
             (static work runs in a thread concurrently with the scan);
  static     the check with no scanner configured: what the gateway adds;
  parse      Message.parse of that message (done untimed before each check run:
             the pipeline parses once for all checks).

Corpus: bytes from a seeded PRNG, wrapped as a base64 MIME attachment. With the
tests' signature DB (3 signatures) clamd is far faster than with the official
databases (millions of signatures); run against a production clamd for real numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway.attachments.clamav import ClamdClient
from gateway.checks.attachments import AttachmentsCheck, Settings
from gateway.message import Message
from tests.attachments.clamd import Clamd
from tests.attachments.helpers import make_message, make_zip

SIZES = {"100 KB": 100 * 1024, "2 MB": 2 * 1024 * 1024}


async def rate(fn: Callable[..., Awaitable[object]], seconds: float,
               prepare: Callable[[], object] | None = None) -> tuple[float, float]:
    """(operations per second, median latency in ms) over about `seconds` of `fn`'s
    own time; `prepare()` (untimed) makes a fresh argument for each call."""
    args = (prepare(),) if prepare else ()
    await fn(*args)                             # warm up (imports, first connection)
    latencies = []
    start = time.perf_counter()
    while time.perf_counter() - start < 3 * seconds and (
            sum(latencies) < seconds or len(latencies) < 3):
        args = (prepare(),) if prepare else ()
        t = time.perf_counter()
        await fn(*args)
        latencies.append(time.perf_counter() - t)
    return len(latencies) / sum(latencies), statistics.median(latencies) * 1000


async def bench(address: str, seconds: float) -> list[tuple[str, ...]]:
    rng = random.Random(4)
    client = ClamdClient(address, max_stream_bytes=64 * 1024 * 1024)
    with_clamd = AttachmentsCheck(Settings(clamd=address))
    static_only = AttachmentsCheck(Settings())
    rows = []
    for size_name, size in SIZES.items():
        blob = rng.randbytes(size)
        for kind, data, filename, ctype in (
                ("binary", blob, "scan.dat", "application/octet-stream"),
                ("zip", make_zip({"scan.dat": blob}, level=1), "scan.zip", "application/zip")):
            raw = make_message((filename, data, ctype)).raw

            async def direct(data: bytes = data) -> None:
                result = await client.instream(data)
                assert not result.infected

            def parsed(raw: bytes = raw) -> Message:
                return Message.parse(raw)     # fresh: libmagic's answer is cached per Part

            async def through(message: Message, check: AttachmentsCheck) -> None:
                findings = await check.run(message)
                assert not [f for f in findings if f.code != "attachment.scan_disabled"], findings

            async def parse_only(raw: bytes = raw) -> None:
                Message.parse(raw)

            clamd_rate, clamd_ms = await rate(direct, seconds)
            check_rate, check_ms = await rate(lambda m: through(m, with_clamd), seconds, parsed)
            static_rate, static_ms = await rate(lambda m: through(m, static_only), seconds, parsed)
            _, parse_ms = await rate(parse_only, seconds / 2)
            rows.append((size_name, kind, f"{len(data) / 1024:.0f}",
                         f"{clamd_rate:.1f}", f"{clamd_ms:.1f}",
                         f"{check_rate:.1f}", f"{check_ms:.1f}",
                         f"{static_rate:.1f}", f"{static_ms:.1f}", f"{parse_ms:.1f}"))
    return rows


def table(rows: list[tuple[str, ...]]) -> str:
    head = ("size", "kind", "KiB", "clamd/s", "clamd ms", "check/s", "check ms",
            "static/s", "static ms", "parse ms")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clamd", default="", help="unix:/path or tcp:host:port; "
                        "default: start a clamd with the tests' tiny signature DB")
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    if args.clamd:
        rows = asyncio.run(bench(args.clamd, args.seconds))
        where = args.clamd
    else:
        with tempfile.TemporaryDirectory() as tmp, Clamd(Path(tmp) / "clamd") as server:
            rows = asyncio.run(bench(server.address, args.seconds))
            where = "a local clamd with the test signature DB"
    print(f"attachments check vs clamd INSTREAM ({where}); sequential, one message at a time\n")
    print(table(rows))


if __name__ == "__main__":
    main()
