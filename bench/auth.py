"""Cost of the sender-authentication check per message, with the local test DNS server.

    python -m bench.auth [--messages 200] [--concurrency 16]

A DNS server (gateway/localdns.py, threads on 127.0.0.1) serves 50 sender domains,
each with SPF, a DKIM key (RSA 2048) and DMARC p=reject. Messages are DKIM-signed by
their sender and arrive from an SPF-authorised address. Scenarios:

  cold        a new check (empty cache) for every message: every lookup goes to DNS
  warm        one check, cache warmed: no DNS at all
  burst       `--messages` messages from ONE sender at once, empty cache: shows the
              coalescing (a burst costs one lookup per name)
  unsigned    warm, unsigned mail failing SPF and DMARC (the cheap path)
  +imperson.  warm auth check plus the impersonation check and header hook

Prints per-message latency (mean, p50, p95; one message at a time) and throughput
(`--concurrency` messages in flight), and DNS queries sent per message.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from gateway.checks import Services, auth, impersonation
from gateway.config import GatewayConfig, validate_section
from gateway.envelope import Audience, Direction, Envelope, Party
from gateway.localdns import ZoneServer
from gateway.message import Message
from tests.auth.conftest import make_raw, new_rsa_key, sign

LOCAL = "stchristophers.example"
N_DOMAINS = 50


def setup() -> tuple[ZoneServer, list[tuple[str, bytes]]]:
    server = ZoneServer(ttl=3600).start()
    key = new_rsa_key(2048)
    corpus = []
    for i in range(N_DOMAINS):
        d = f"sender{i}.bench"
        server.add(d, "TXT", f"v=spf1 ip4:192.0.2.0/24 include:_spf.{d} -all")
        server.add(f"_spf.{d}", "TXT", "v=spf1 ip4:198.51.100.0/24 -all")
        server.add(f"_dmarc.{d}", "TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@" + d)
        server.add(f"s1._domainkey.{d}", "TXT", key.record)
        raw = make_raw(f"news@{d}", to=f"j.harris@{LOCAL}", body="Hello.\r\n" * 200)
        corpus.append((d, sign(raw, d, "s1", key)))
    return server, corpus


def build(server: ZoneServer):
    config = GatewayConfig.model_validate({
        "relay": {"local_domains": [LOCAL], "downstream": "127.0.0.1:2526"},
        "server": {"hostname": "mx." + LOCAL}})
    settings = validate_section(auth.Settings, {"nameservers": [server.address]}, "auth")
    return auth.build(settings, Services(config=config)), config


def env(domain: str) -> Envelope:
    ip = "203.0.113.25" if domain.startswith("x") else "192.0.2.25"   # x...: SPF fails
    domain = domain.lstrip("x")
    return Envelope(f"bounce@{domain}", Party(f"bounce@{domain}", Audience.EXTERNAL),
                    [Party(f"j.harris@{LOCAL}", Audience.STAFF)], ip,
                    f"mail.{domain}", Direction.INBOUND)


_parsed: dict[bytes, Message] = {}


async def one(check, domain, raw, extra=None):
    """The check's own cost: the message is parsed once, outside the timing (the
    pipeline parses once for every check)."""
    msg = _parsed.get(raw) or _parsed.setdefault(raw, Message.parse(raw))
    e = env(domain)
    t = time.perf_counter()
    findings = await check.run(msg, e)
    if extra is not None:
        findings += await extra.run(msg, e)
        check.headers(msg, e, findings)
    return time.perf_counter() - t, findings


async def scenario(name, server, corpus, n, concurrency, fresh=False, extra=None):
    check, config = build(server)
    if extra == "imperson":
        extra = impersonation.build(impersonation.Settings(), Services(config=config))
    if not fresh:
        for d, raw in corpus:
            await one(check, d, raw, extra)
    before = sum(server.queries.values())
    latencies = []
    for i in range(n):
        d, raw = corpus[i % len(corpus)]
        if fresh:
            check, _ = build(server)
        dt, findings = await one(check, d, raw, extra)
        latencies.append(dt)
    queries = sum(server.queries.values()) - before
    sem = asyncio.Semaphore(concurrency)

    async def limited(i):
        async with sem:
            d, raw = corpus[i % len(corpus)]
            c = build(server)[0] if fresh else check
            return await one(c, d, raw, extra)

    t = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(n)))
    rate = n / (time.perf_counter() - t)
    return (name, n, statistics.mean(latencies) * 1000,
            statistics.median(latencies) * 1000,
            sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000, rate, queries / n,
            sorted({f.code for f in findings if f.code.startswith("auth.dmarc")}))


async def burst(server, corpus, n):
    check, _ = build(server)
    d, raw = corpus[0]
    server.queries.clear()
    t = time.perf_counter()
    results = await asyncio.gather(*(one(check, d, raw) for _ in range(n)))
    elapsed = time.perf_counter() - t
    lat = sorted(r[0] for r in results)
    return ("burst", n, statistics.mean(lat) * 1000, statistics.median(lat) * 1000,
            lat[int(0.95 * (n - 1))] * 1000, n / elapsed, sum(server.queries.values()) / n,
            sorted({f.code for f in results[0][1] if f.code.startswith("auth.dmarc")}))


async def main(args) -> None:
    server, corpus = setup()
    unsigned = [("x" + d, make_raw(f"x@{d}", to=f"j.harris@{LOCAL}")) for d, _ in corpus]
    rows = [await scenario("cold", server, corpus, args.messages, args.concurrency, True),
            await scenario("warm", server, corpus, args.messages, args.concurrency),
            await burst(server, corpus, args.messages)]
    # unsigned mail from an address SPF does not authorise ("x" + domain, see env())
    rows.append(await scenario("unsigned", server, unsigned, args.messages, args.concurrency))
    rows.append(await scenario("+imperson.", server, corpus, args.messages, args.concurrency,
                               extra="imperson"))
    server.stop()
    print(f"auth check, {args.messages} messages ({len(corpus[0][1])} bytes, RSA-2048 "
          f"DKIM), DNS on 127.0.0.1, concurrency {args.concurrency}")
    print(f"{'scenario':<11} {'msgs':>5} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'msg/s':>7} {'DNS q/msg':>9}  dmarc")
    for name, n, mean, p50, p95, rate, q, dm in rows:
        print(f"{name:<11} {n:>5} {mean:>8.2f} {p50:>7.2f} {p95:>7.2f} {rate:>7.0f} {q:>9.2f}"
              f"  {','.join(dm)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
