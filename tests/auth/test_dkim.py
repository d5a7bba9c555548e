"""DKIM: every signature verified, rsa-sha256 and ed25519, broken body, missing key,
DNS failure, and the rspamd corpus of awkward signatures (no crash, no pass)."""

from __future__ import annotations

import dkim as dkimpy
import pytest

from tests.auth.conftest import (
    DKIMPY_DATA,
    RSPAMD,
    by_code,
    codes,
    envelope,
    make_raw,
    parse,
    sign,
    unique,
)

# RFC 8463's ed25519 test key; the RSA one is dkimpy's test.txt (shared/data)
RFC8463_ED25519 = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


@pytest.fixture(scope="module")
def rfc8463_zone(dns_server):
    dns_server.add("brisbane._domainkey.football.example.com", "TXT", RFC8463_ED25519)
    dns_server.add("test._domainkey.football.example.com", "TXT",
                   (DKIMPY_DATA / "test.txt").read_text().strip())


async def dkim_only(make_auth, raw, mail_from="bounce@sender.test"):
    check = make_auth(spf=False, dmarc=False, arc=False)
    return await check.run(parse(raw), envelope(mail_from))


async def test_rfc8463_message_ed25519_and_rsa_both_pass(make_auth, rfc8463_zone):
    raw = (DKIMPY_DATA / "rfc6376.signed.msg").read_bytes()
    findings = await dkim_only(make_auth, raw)
    sigs = by_code(findings, "auth.dkim.pass")[0].data["signatures"]
    assert sorted(s["a"] for s in sigs) == ["ed25519-sha256", "rsa-sha256"]
    assert codes(findings) == {"auth.dkim.pass"}


async def test_broken_body_fails_every_signature(make_auth, rfc8463_zone):
    raw = (DKIMPY_DATA / "rfc6376.signed.msg").read_bytes().replace(b"We lost", b"We won")
    findings = await dkim_only(make_auth, raw)
    assert codes(findings) == {"auth.dkim.fail"}
    f = by_code(findings, "auth.dkim.fail")[0]
    assert len(f.data["signatures"]) == 2 and "body hash" in f.detail
    assert f.score > 0


async def test_shared_test_key_signs_and_verifies(make_auth, dns_server, shared_key):
    domain = unique("shared")
    dns_server.add(f"test._domainkey.{domain}", "TXT", shared_key.record)
    raw = sign((DKIMPY_DATA / "test.message").read_bytes(), domain, "test", shared_key)
    assert codes(await dkim_only(make_auth, raw)) == {"auth.dkim.pass"}


async def test_missing_key_is_permerror_not_pass(make_auth, keys):
    raw = sign(make_raw("a@nokey.test"), unique("nokey"), "gone", keys["a"])
    findings = await dkim_only(make_auth, raw)
    assert codes(findings) == {"auth.dkim.permerror"}
    assert "no key" in by_code(findings, "auth.dkim.permerror")[0].data["signatures"][0]["reason"]


async def test_revoked_key_is_permerror(make_auth, dns_server, keys):
    domain = unique("revoked")
    dns_server.add(f"sel._domainkey.{domain}", "TXT", "v=DKIM1; k=rsa; p=")
    raw = sign(make_raw(f"a@{domain}"), domain, "sel", keys["a"])
    assert codes(await dkim_only(make_auth, raw)) == {"auth.dkim.permerror"}


async def test_wrong_key_fails(make_auth, dns_server, keys):
    domain = unique("wrongkey")
    dns_server.add(f"sel._domainkey.{domain}", "TXT", keys["b"].record)
    raw = sign(make_raw(f"a@{domain}"), domain, "sel", keys["a"])
    assert codes(await dkim_only(make_auth, raw)) == {"auth.dkim.fail"}


async def test_key_lookup_servfail_is_temperror(make_auth, dns_server, keys):
    domain = unique("dkimservfail")
    dns_server.servfail(f"_domainkey.{domain}")
    raw = sign(make_raw(f"a@{domain}"), domain, "sel", keys["a"])
    assert codes(await dkim_only(make_auth, raw)) == {"auth.dkim.temperror"}


async def test_every_signature_is_verified(make_auth, dns_server, keys):
    good, bad = unique("good"), unique("bad")
    dns_server.add(f"s1._domainkey.{good}", "TXT", keys["a"].record)
    dns_server.add(f"s2._domainkey.{bad}", "TXT", keys["c"].record)
    raw = sign(make_raw(f"a@{good}"), good, "s1", keys["a"])
    raw = sign(raw, bad, "s2", keys["b"])                  # topmost, wrong key
    findings = await dkim_only(make_auth, raw)
    # a failing signature beside a passing one is recorded and costs nothing (RFC 6376 6.1)
    assert codes(findings) == {"auth.dkim.pass", "auth.dkim.other_failed"}
    assert by_code(findings, "auth.dkim.other_failed")[0].score == 0
    assert by_code(findings, "auth.dkim.other_failed")[0].data["signatures"][0]["d"] == bad


async def test_unsigned_message(make_auth):
    assert codes(await dkim_only(make_auth, make_raw("a@unsigned.test"))) == {"auth.dkim.none"}


RSPAMD_DKIM = sorted(p.name for p in RSPAMD.glob("dkim_*.eml")) + \
    sorted(f"dmarc/{p.name}" for p in (RSPAMD / "dmarc").glob("*.eml"))


async def test_rspamd_ed25519_messages_with_the_rfc8463_keys(make_auth, rfc8463_zone):
    good = await dkim_only(make_auth, (RSPAMD / "ed25519.eml").read_bytes())
    assert codes(good) == {"auth.dkim.pass"}
    assert len(by_code(good, "auth.dkim.pass")[0].data["signatures"]) == 2
    broken = await dkim_only(make_auth, (RSPAMD / "ed25519-broken.eml").read_bytes())
    assert "auth.dkim.pass" not in codes(broken)


@pytest.mark.parametrize("name", RSPAMD_DKIM)
async def test_rspamd_messages_never_crash_and_never_pass_without_keys(make_auth, name):
    """rspamd's keys live in its own test DNS, not here: every signature must come out
    as permerror/fail (or none), never pass, and nothing may raise."""
    raw = (RSPAMD / name).read_bytes()
    check = make_auth(time_budget=3.0)
    findings = await check.run(parse(raw), envelope("bounce@rspamd.test"))
    found = codes(findings)
    assert "auth.dkim.pass" not in found
    assert found & {"auth.dkim.permerror", "auth.dkim.fail", "auth.dkim.none"}
    assert "auth.dmarc.pass" not in found


async def test_body_length_limit_with_appended_text_is_not_a_pass(make_auth, dns_server, keys):
    domain = unique("ltag")
    dns_server.add(f"l._domainkey.{domain}", "TXT", keys["a"].record)
    raw = make_raw(f"a@{domain}")
    sig = dkimpy.sign(raw, b"l", domain.encode(), keys["a"].private, length=True,
                      include_headers=[b"from", b"subject"])
    assert codes(await dkim_only(make_auth, sig + raw)) == {"auth.dkim.pass"}
    appended = sig + raw + b"Click here: http://phish.test/\r\n"
    findings = await dkim_only(make_auth, appended)
    assert codes(findings) == {"auth.dkim.policy"}
    assert "l=" in by_code(findings, "auth.dkim.policy")[0].detail
