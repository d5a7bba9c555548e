"""SPF through the auth check: pass, fail, softfail, neutral, temperror, permerror, HELO."""

from __future__ import annotations

import asyncio

import pytest

from tests.auth.conftest import by_code, codes, envelope, make_raw, parse, unique


@pytest.fixture
def spf_domain(dns_server):
    domain = unique("spf")
    dns_server.add(domain, "TXT", "v=spf1 ip4:192.0.2.0/25 a:out." + domain + " ~all")
    dns_server.add("out." + domain, "A", "198.51.100.20")
    return domain


async def run_spf(make_auth, domain, ip, helo="mail.sender.test"):
    check = make_auth(dkim=False, dmarc=False, arc=False)
    raw = make_raw(f"someone@{domain}")
    return await check.run(parse(raw), envelope(f"bounce@{domain}", ip=ip, helo=helo))


@pytest.mark.parametrize("ip, result", [
    ("192.0.2.10", "pass"),            # ip4 mechanism
    ("198.51.100.20", "pass"),         # a: mechanism
    ("203.0.113.9", "softfail"),       # ~all
])
async def test_spf_results(make_auth, spf_domain, ip, result):
    findings = await run_spf(make_auth, spf_domain, ip)
    assert f"auth.spf.{result}" in codes(findings)
    f = by_code(findings, f"auth.spf.{result}")[0]
    assert f.data["domain"] == spf_domain and f.data["client_ip"] == ip


async def test_spf_fail_and_neutral_and_none(make_auth, dns_server):
    hard, neutral = unique("hard"), unique("neutral")
    dns_server.add(hard, "TXT", "v=spf1 ip4:192.0.2.1 -all")
    dns_server.add(neutral, "TXT", "v=spf1 ?all")
    assert "auth.spf.fail" in codes(await run_spf(make_auth, hard, "203.0.113.9"))
    assert "auth.spf.neutral" in codes(await run_spf(make_auth, neutral, "203.0.113.9"))
    assert "auth.spf.none" in codes(await run_spf(make_auth, unique("nospf"), "203.0.113.9"))


async def test_spf_permerror_on_too_many_lookups(make_auth, dns_server):
    domain = unique("loop")
    includes = " ".join(f"include:i{i}.{domain}" for i in range(11))
    dns_server.add(domain, "TXT", f"v=spf1 {includes} -all")
    for i in range(11):
        dns_server.add(f"i{i}.{domain}", "TXT", "v=spf1 ip4:10.0.0.1 -all")
    assert "auth.spf.permerror" in codes(await run_spf(make_auth, domain, "203.0.113.9"))


async def test_spf_temperror_on_servfail_and_timeout(make_auth, dns_server):
    broken, slow = unique("broken"), unique("slow")
    dns_server.servfail(broken)
    dns_server.blackhole(slow)
    for domain in (broken, slow):
        found = codes(await run_spf(make_auth, domain, "192.0.2.10"))
        assert "auth.spf.temperror" in found
        assert not found & {"auth.spf.pass", "auth.spf.none"}


async def test_spf_temperror_inside_an_include(make_auth, dns_server):
    domain, broken = unique("inc"), unique("brokeninc")
    dns_server.add(domain, "TXT", f"v=spf1 include:{broken} -all")
    dns_server.servfail(broken)
    assert "auth.spf.temperror" in codes(await run_spf(make_auth, domain, "192.0.2.10"))


async def test_helo_identity_is_checked(make_auth, dns_server, spf_domain):
    helo = "mx." + spf_domain
    dns_server.add(helo, "TXT", "v=spf1 ip4:192.0.2.10 -all")
    findings = await run_spf(make_auth, spf_domain, "192.0.2.10", helo=helo)
    assert {"auth.spf.pass", "auth.spf.helo.pass"} <= codes(findings)


async def test_a_burst_from_one_sender_costs_one_lookup(make_auth, dns_server, spf_domain):
    check = make_auth(dkim=False, dmarc=False, arc=False, spf_helo=False)
    env = envelope(f"bounce@{spf_domain}", ip="203.0.113.9")
    messages = [parse(make_raw(f"x@{spf_domain}")) for _ in range(20)]
    results = await asyncio.gather(*(check.run(m, env) for m in messages))
    assert all("auth.spf.softfail" in codes(r) for r in results)
    assert dns_server.count(spf_domain) == 1
