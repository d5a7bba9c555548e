"""DMARC: discovery, alignment (relaxed, strict, organisational domain), the requested
policy as findings, temperror, and what config/policy.toml does with them."""

from __future__ import annotations

import pytest

from gateway.auth.dmarc import aligned, parse_record
from gateway.auth.psl import org_domain
from gateway.config import PROJECT_ROOT
from gateway.envelope import Audience, Party
from gateway.policy import Action, Policy
from tests.auth.conftest import LOCAL, by_code, codes, envelope, make_raw, parse, sign, unique


@pytest.fixture(scope="module")
def policy():
    return Policy.load(PROJECT_ROOT / "config" / "policy.toml")


def decide(policy, findings, audience=Audience.PUPIL):
    env = envelope("x@y.test", recipients=[Party(f"r@{LOCAL}", audience)])
    return policy.decide(findings, env)[0]


@pytest.mark.parametrize("domain, org", [
    ("mail.example.co.uk", "example.co.uk"),
    ("example.co.uk", "example.co.uk"),
    ("a.b.stchristophers.example", "stchristophers.example"),   # TLD not on the list
    ("school.sch.uk", "school.sch.uk"),                         # *.sch.uk
    ("x.school.sch.uk", "x.school.sch.uk"),                     # school.sch.uk is a suffix
    ("co.uk", "co.uk"),
])
def test_org_domain_from_the_public_suffix_list(domain, org):
    assert org_domain(domain) == org


def test_alignment_modes():
    assert aligned("mail.sender.test", "news.sender.test", "r")
    assert not aligned("mail.sender.test", "news.sender.test", "s")
    assert aligned("sender.test", "sender.test", "s")
    assert not aligned("sender.test.evil.test", "sender.test", "r")
    assert not aligned("a.example.co.uk", "b.other.co.uk", "r")


def test_record_parsing():
    assert parse_record("v=DMARC1; p=reject; sp=none; pct=50", "d").sp == "none"
    assert parse_record("v=DMARC1; p=bogus; rua=mailto:x@d", "d").p == "none"   # 6.6.3
    assert parse_record("v=DMARC1; p=bogus", "d") is None
    assert parse_record("v=spf1 -all", "d") is None
    assert parse_record("p=reject; v=DMARC1", "d") is None


async def test_pass_through_an_aligned_signature_that_is_not_the_topmost(
        make_auth, dns_server, keys):
    sender, esp = unique("sender"), unique("esp")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=reject")
    dns_server.add(sender, "TXT", "v=spf1 ip4:192.0.2.1 -all")        # SPF will fail
    dns_server.add(f"k1._domainkey.mail.{sender}", "TXT", keys["a"].record)
    dns_server.add(f"k2._domainkey.{esp}", "TXT", keys["b"].record)
    raw = sign(make_raw(f"news@{sender}"), f"mail.{sender}", "k1", keys["a"])  # aligned (r)
    raw = sign(raw, esp, "k2", keys["b"])                                     # topmost
    check = make_auth()
    findings = await check.run(parse(raw), envelope(f"bounce@{sender}", ip="203.0.113.5"))
    assert {"auth.dmarc.pass", "auth.spf.fail", "auth.dkim.pass"} <= codes(findings)
    assert by_code(findings, "auth.dmarc.pass")[0].data["dkim_aligned"] == [f"mail.{sender}"]


async def test_pass_through_aligned_spf(make_auth, dns_server):
    sender = unique("spfonly")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=reject")
    dns_server.add(f"bounces.{sender}", "TXT", "v=spf1 ip4:192.0.2.10 -all")
    findings = await make_auth().run(parse(make_raw(f"hi@{sender}")),
                                     envelope(f"b@bounces.{sender}", ip="192.0.2.10"))
    f = by_code(findings, "auth.dmarc.pass")[0]
    assert f.data["spf_aligned"] and not f.data["dkim_aligned"]


async def test_strict_spf_alignment_fails_for_a_subdomain(make_auth, dns_server):
    sender = unique("strict")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=quarantine; aspf=s")
    dns_server.add(f"bounces.{sender}", "TXT", "v=spf1 ip4:192.0.2.10 -all")
    findings = await make_auth().run(parse(make_raw(f"hi@{sender}")),
                                     envelope(f"b@bounces.{sender}", ip="192.0.2.10"))
    assert {"auth.dmarc.fail", "auth.dmarc.fail.quarantine"} <= codes(findings)


async def test_fail_reject_is_reported_and_refused(make_auth, dns_server, keys, policy):
    sender = unique("reject")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=reject; rua=mailto:d@" + sender)
    dns_server.add(sender, "TXT", "v=spf1 ip4:192.0.2.1 -all")
    raw = sign(make_raw(f"ceo@{sender}"), unique("other"), "k", keys["a"])   # unaligned, no key
    findings = await make_auth().run(parse(raw), envelope(f"x@{sender}", ip="203.0.113.5"))
    found = codes(findings)
    assert {"auth.dmarc.fail", "auth.dmarc.fail.reject"} <= found
    fail = by_code(findings, "auth.dmarc.fail")[0]
    assert fail.data["policy"] == "reject" and fail.data["disposition"] == "reject"
    assert decide(policy, findings).action >= Action.QUARANTINE
    assert decide(policy, findings, Audience.STAFF).action >= Action.QUARANTINE


async def test_subdomain_policy_from_the_organisational_domain(make_auth, dns_server, policy):
    org = unique("org")
    dns_server.add(f"_dmarc.{org}", "TXT", "v=DMARC1; p=reject; sp=none")
    findings = await make_auth().run(parse(make_raw(f"x@news.{org}")),
                                     envelope(f"x@news.{org}", ip="203.0.113.5"))
    f = by_code(findings, "auth.dmarc.fail")[0]
    assert f.data["record_domain"] == org and f.data["policy"] == "none"
    assert "auth.dmarc.fail.none" in codes(findings)
    assert decide(policy, findings).action < Action.QUARANTINE


async def test_no_record_is_none(make_auth):
    findings = await make_auth().run(parse(make_raw(f"x@{unique('nodmarc')}")),
                                     envelope("x@a.test", ip="203.0.113.5"))
    assert "auth.dmarc.none" in codes(findings)


async def test_dns_failure_is_temperror_and_deferred(make_auth, dns_server, policy):
    sender = unique("dmarcfail")
    dns_server.servfail(f"_dmarc.{sender}")
    findings = await make_auth().run(parse(make_raw(f"x@{sender}")),
                                     envelope(f"x@{sender}", ip="203.0.113.5"))
    found = codes(findings)
    assert "auth.dmarc.temperror" in found
    assert not found & {"auth.dmarc.pass", "auth.dmarc.none", "auth.dmarc.fail"}
    assert decide(policy, findings).action == Action.DEFER


async def test_aligned_key_timeout_is_temperror_not_fail(make_auth, dns_server, keys):
    sender = unique("keyslow")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=reject")
    dns_server.add(sender, "TXT", "v=spf1 -all")
    dns_server.blackhole(f"_domainkey.{sender}")
    raw = sign(make_raw(f"x@{sender}"), sender, "k", keys["a"])
    findings = await make_auth().run(parse(raw), envelope(f"x@{sender}", ip="203.0.113.5"))
    found = codes(findings)
    assert {"auth.dkim.temperror", "auth.dmarc.temperror"} <= found
    assert "auth.dmarc.fail.reject" not in found


async def test_time_budget_gives_temperror(make_auth, dns_server):
    sender = unique("budget")
    dns_server.blackhole(sender)
    check = make_auth(time_budget=0.3, dns_timeout=2.0, spf_budget=2.0)
    findings = await check.run(parse(make_raw(f"x@{sender}")),
                               envelope(f"x@{sender}", ip="203.0.113.5"))
    found = codes(findings)
    assert {"auth.spf.temperror", "auth.dmarc.temperror"} <= found
    assert "auth.spf.pass" not in found


async def test_two_from_domains_is_permerror(make_auth, dns_server, keys):
    mine, victim = unique("mine"), unique("victim")
    dns_server.add(f"_dmarc.{victim}", "TXT", "v=DMARC1; p=reject")
    dns_server.add(f"k._domainkey.{mine}", "TXT", keys["a"].record)
    raw = sign(make_raw(f"x@{mine}"), mine, "k", keys["a"])
    raw = raw.replace(b"From: ", f"From: ceo@{victim}\r\nFrom: ".encode(), 1)
    findings = await make_auth().run(parse(raw), envelope(f"x@{mine}", ip="203.0.113.5"))
    found = codes(findings)
    assert "auth.dmarc.permerror" in found and "auth.dmarc.pass" not in found


async def test_a_comma_in_an_encoded_display_name_is_one_author(make_auth, dns_server):
    sender = unique("comma")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=none")
    raw = make_raw(f"x@{sender}", display="=?utf-8?q?Smith=2C_John?=")
    findings = await make_auth().run(parse(raw), envelope(f"x@{sender}", ip="203.0.113.5"))
    assert "auth.dmarc.permerror" not in codes(findings)
