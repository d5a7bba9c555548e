"""The resolver against the real test DNS server: answers, errors, cache, coalescing."""

from __future__ import annotations

import asyncio

from gateway.auth.dns import NODATA, NXDOMAIN, OK, TEMPERROR, Resolver
from tests.auth.conftest import unique


async def test_answers_and_negative_answers(dns_server):
    name = unique("dns")
    dns_server.add(name, "TXT", "v=spf1 -all")
    dns_server.add(name, "TXT", "x" * 600)          # > 512 bytes: truncated UDP, then TCP
    dns_server.add(name, "MX", (10, f"mx.{name}"))
    r = Resolver([dns_server.address], timeout=1)
    txt = await r.txt(name)
    assert txt.status == OK and sorted(len(t) for t in txt.txt()) == [11, 600]
    assert (await r.query(name, "MX")).records == ((10, f"mx.{name}"),)
    assert (await r.query(name, "AAAA")).status == NODATA
    assert (await r.txt("nothing." + name)).status == NXDOMAIN


async def test_servfail_and_timeout_are_temperror_not_empty(dns_server):
    broken, silent = unique("servfail"), unique("silent")
    dns_server.servfail(broken)
    dns_server.blackhole(silent)
    r = Resolver([dns_server.address], timeout=0.3, error_ttl=0)
    a, b = await r.txt(broken), await r.txt(silent)
    assert a.status == TEMPERROR and "SERVFAIL" in a.error
    assert b.status == TEMPERROR and "Timeout" in b.error
    assert not a.records and not b.records


async def test_unreachable_nameserver_is_temperror():
    r = Resolver(["127.0.0.1:9"], timeout=0.3)
    assert (await r.txt("example.test")).status == TEMPERROR


async def test_a_burst_costs_one_lookup(dns_server):
    name = unique("burst")
    dns_server.add(name, "TXT", "v=spf1 -all")
    r = Resolver([dns_server.address], timeout=1)
    answers = await asyncio.gather(*(r.txt(name) for _ in range(50)))
    answers += [await r.txt(name) for _ in range(50)]
    assert all(a.status == OK for a in answers)
    assert dns_server.count(name) == 1
    assert r.stats.queries == 1 and r.stats.coalesced == 49 and r.stats.hits == 50


async def test_ttl_is_honoured(dns_server):
    name = unique("ttl")
    dns_server.add(name, "TXT", "one", ttl=300)
    r = Resolver([dns_server.address], timeout=1, max_ttl=0.2)   # clamp: expires fast
    await r.txt(name)
    await r.txt(name)
    assert dns_server.count(name) == 1
    await asyncio.sleep(0.25)
    await r.txt(name)
    assert dns_server.count(name) == 2



def test_server_runs_as_a_separate_process(tmp_path):
    import json
    import subprocess
    import sys

    from gateway.config import PROJECT_ROOT

    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps({"proc.test": {"TXT": ["v=spf1 -all"]}}))
    proc = subprocess.Popen([sys.executable, "-m", "gateway.localdns", str(zone)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())

        async def ask():
            return [(await Resolver([f"127.0.0.1:{port}"], timeout=2, use_tcp=tcp)
                     .txt("proc.test")).txt() for tcp in (False, True)]

        assert asyncio.run(ask()) == [["v=spf1 -all"], ["v=spf1 -all"]]
    finally:
        proc.terminate()
        proc.wait(5)
