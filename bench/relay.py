"""Relay throughput and added latency, measured over loopback with real SMTP.

    python -m bench.relay [--sessions 8] [--messages 800] [--backend sqlite]

Sends the same load (N parallel SMTP sessions, M messages taken round-robin from
../shared/data/mail/spamassassin, each to one staff address) twice, in one run:
straight to a sink (`aupgate sink`, a separate process), then through the gateway
(`aupgate serve`, a separate process) in front of that sink. Prints messages per
second and p50/p99 per-message latency for both, and what the gateway added.
The client is aiosmtplib in this process; each session sends its messages one after
another on one connection, as an MTA's delivery agent would.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib

from gateway.localdns import DEMO_ZONES, ZoneServer
from tests.support import (
    ROOT,
    SHARED,
    STAFF,
    GatewayProcess,
    SinkProcess,
    free_port,
    import_directory,
    write_config,
)

CORPUS = SHARED / "data" / "mail" / "spamassassin"


def load_corpus(limit: int) -> list[bytes]:
    rows = list(csv.DictReader((CORPUS / "index.csv").open()))
    out = []
    for row in rows[:limit]:
        raw = (CORPUS / row["group"] / row["filename"]).read_bytes()
        # Corpus files use bare LF; an MTA sends CRLF, so do the same.
        out.append(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (gateway workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def measured(port: int, corpus: list[bytes], sessions: int, total: int,
             processes: dict[str, int]) -> dict:
    """`drive`, plus the CPU each process spent on it: on a 2-core machine the client and
    the sink compete with the gateway, and this says how much."""
    before = {name: tree_cpu_seconds(pid) for name, pid in processes.items()}
    client_before = time.process_time()
    result = asyncio.run(drive(port, corpus, sessions, total))
    cpu = {name: tree_cpu_seconds(pid) - before[name] for name, pid in processes.items()}
    cpu["client"] = time.process_time() - client_before
    result["cpu_ms_per_msg"] = {k: v * 1000 / max(1, result["sent"]) for k, v in cpu.items()}
    result["cores_busy"] = sum(cpu.values()) / result["seconds"]
    return result


async def session(port: int, messages: list[bytes], latencies: list[float],
                  failures: list[str]) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60, start_tls=False)
    await client.connect()
    try:
        for raw in messages:
            started = time.perf_counter()
            try:
                await client.sendmail("bench@example.org", [STAFF], raw)
                latencies.append(time.perf_counter() - started)
            except aiosmtplib.SMTPException as e:
                failures.append(str(e)[:100])
                await client.rset()
    finally:
        await client.quit()


async def drive(port: int, corpus: list[bytes], sessions: int, total: int) -> dict:
    shares = [[corpus[(s + i * sessions) % len(corpus)] for i in range(total // sessions)]
              for s in range(sessions)]
    latencies: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(session(port, share, latencies, failures) for share in shares))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "sent": len(latencies), "failed": len(failures), "seconds": elapsed,
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "bytes": sum(len(m) for share in shares for m in share),
        "failures": failures[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--messages", type=int, default=800)
    parser.add_argument("--corpus-size", type=int, default=400)
    parser.add_argument("--store-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--workers", type=int, default=1, help="gateway processes")
    args = parser.parse_args()

    corpus = load_corpus(args.corpus_size)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sink = SinkProcess(tmp / "sink")
        sink.cmd.append("--quiet")
        sink.start()
        dns = ZoneServer(DEMO_ZONES).start()
        store_url = args.store_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        port = free_port()
        config = write_config(tmp / "gateway.toml", {
            "server.listen_port": port, "relay.downstream": f"127.0.0.1:{sink.port}",
            "store.url": store_url, "server.max_sessions_per_client": 1000,
            "server.workers": args.workers, "checks.auth.nameservers": [dns.address]})
        asyncio.run(import_directory(store_url, ROOT / "config" / "directory.sample.csv"))
        gateway = GatewayProcess(config, port, tmp)
        gateway.start()
        try:
            asyncio.run(drive(sink.port, corpus, args.sessions, args.sessions * 5))  # warm-up
            asyncio.run(drive(port, corpus, args.sessions, args.sessions * 5))
            # One session: the latency a single message sees, with nothing queued ahead.
            procs = {"gateway": gateway.process.pid, "sink": sink.process.pid}
            direct1 = measured(sink.port, corpus, 1, args.messages // 4, procs)
            through1 = measured(port, corpus, 1, args.messages // 4, procs)
            # N sessions: throughput, and latency that now includes waiting for the CPU.
            direct = measured(sink.port, corpus, args.sessions, args.messages, procs)
            through = measured(port, corpus, args.sessions, args.messages, procs)
        finally:
            gateway.stop()
            sink.stop()
            dns.stop()

    mean_kb = direct["bytes"] / args.messages / 1024
    print(f"\naupgate relay benchmark: {args.messages} messages from {CORPUS.name} "
          f"(first {len(corpus)} of index.csv, mean {mean_kb:.1f} KiB), "
          f"{args.sessions} parallel sessions, {args.workers} gateway worker(s), loopback, "
          f"store {store_url.split(':')[0]}\n")
    print("| path | sessions | msgs/s | p50 ms | p99 ms | failed |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = (("client → sink (baseline)", 1, direct1), ("client → aupgate → sink", 1, through1),
            ("client → sink (baseline)", args.sessions, direct),
            ("client → aupgate → sink", args.sessions, through))
    for name, n, r in rows:
        print(f"| {name} | {n} | {r['rate']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
              f"{r['failed']} |")
    for n, base, r in ((1, direct1, through1), (args.sessions, direct, through)):
        print(f"| added by aupgate | {n} | | {r['p50'] - base['p50']:+.1f} | "
              f"{r['p99'] - base['p99']:+.1f} | |")
    print("\n| path | sessions | CPU ms/msg: gateway | sink | client | cores busy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, r in rows:
        c = r["cpu_ms_per_msg"]
        print(f"| {name} | {n} | {c['gateway']:.1f} | {c['sink']:.1f} | {c['client']:.1f} | "
              f"{r['cores_busy']:.2f} |")
    for r in (direct1, through1, direct, through):
        for f in r["failures"]:
            print(f"  failure: {f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
