"""Impersonation findings, and the near-misses that must not fire. Staff come from the
real directory (config/directory.sample.csv): Margaret Ellison, Daniel Okafor, Priya
Raman, James Harris, Sarah Patel and the School Office."""

from __future__ import annotations

import pytest

from gateway.auth.impersonation import distance, lookalike
from gateway.config import PROJECT_ROOT
from gateway.envelope import Audience, Direction, Party
from gateway.policy import Action, Policy
from tests.auth.conftest import LOCAL, by_code, codes, envelope, make_raw, parse, sign, unique

PUPIL = Party(f"amy.lee@{LOCAL}", Audience.PUPIL, "Amy Lee")
STAFF = Party(f"j.harris@{LOCAL}", Audience.STAFF, "James Harris")


async def run(check, from_addr, display="", to=PUPIL, extra="", mail_from=None):
    raw = make_raw(from_addr, display=display, extra=extra)
    return await check.run(parse(raw), envelope(mail_from or from_addr, recipients=[to]))


@pytest.mark.parametrize("display, kind", [
    ("Sarah Patel", "full"),
    ("Patel, Sarah", "full"),
    ("SARAH PATEL (Year 5)", "full"),
    ("Sаrah Pаtel", "full"),                     # Cyrillic а, raw UTF-8 (SMTPUTF8)
    ("=?utf-8?b?U9CwcmFoIFDQsHRlbA==?=", "full"),  # the same, RFC 2047 encoded
    ("Sarah Patle", "fuzzy"),
    ("S. Patel", "initial"),
    ("Mrs Patel", "title_surname"),
    ("Dr Daniel Okafor", "full"),
    (f"s.patel@{LOCAL}", "address_in_name"),
])
async def test_staff_display_name_fires(make_impersonation, display, kind):
    findings = await run(make_impersonation(), "someone@gmail.com", display, to=STAFF)
    f = by_code(findings, "impersonation.staff_display_name")
    assert f, display
    assert kind in {m["kind"] for m in f[0].data["matches"]}


@pytest.mark.parametrize("display", [
    "Sarah Jones",                 # a colleague's first name only
    "Sarah",
    "James Smith",
    "Harris Tweed Ltd",            # a surname alone, no title
    "St Mary's School Office",     # shares two words with the "School Office" mailbox
    "Margaret Ellison-Smythe Associates Ltd",
    "Priya",
])
async def test_staff_display_name_near_misses(make_impersonation, display):
    findings = await run(make_impersonation(), "someone@gmail.com", display, to=STAFF)
    assert "impersonation.staff_display_name" not in codes(findings)


async def test_staff_own_address_is_not_impersonation(make_impersonation):
    findings = await run(make_impersonation(), f"s.patel@{LOCAL}", "Sarah Patel", to=PUPIL)
    assert not codes(findings) & {"impersonation.staff_display_name",
                                  "safeguarding.staff_personal_account_to_pupil"}


async def test_title_surname_can_be_switched_off(make_impersonation):
    findings = await run(make_impersonation(match_title_surname=False), "x@gmail.com",
                         "Mr Harris", to=STAFF)
    assert "impersonation.staff_display_name" not in codes(findings)


async def test_safeguarding_staff_personal_account_to_pupil(make_impersonation):
    check = make_impersonation()
    findings = await run(check, "jamesharris1984@gmail.com", "James Harris", to=PUPIL)
    assert {"impersonation.staff_display_name",
            "safeguarding.staff_personal_account_to_pupil"} <= codes(findings)
    f = by_code(findings, "safeguarding.staff_personal_account_to_pupil")[0]
    assert f.data["pupils"] == [PUPIL.address] and f.data["freemail"]
    decision = Policy.load(PROJECT_ROOT / "config" / "policy.toml").decide(
        findings, envelope("x@gmail.com", recipients=[PUPIL]))[0]
    assert decision.alert and decision.action >= Action.ESCALATE
    # the same to a member of staff is impersonation, not a safeguarding case
    to_staff = await run(check, "jamesharris1984@gmail.com", "James Harris", to=STAFF)
    assert "safeguarding.staff_personal_account_to_pupil" not in codes(to_staff)


PROTECTED = [LOCAL]


@pytest.mark.parametrize("domain, kind", [
    ("stchristophers.co.uk", "other_tld"),
    ("stchristophers.com", "other_tld"),
    ("stchrist0phers.example", "confusable"),
    ("stchristophers.example".replace("o", "о", 1).encode("idna").decode(), "confusable"),
    ("stchrlstophers.org", "confusable"),
    ("stchristopher.example", "edit_distance"),
    ("stchirstophers.example", "edit_distance"),
    ("stchristophers-payroll.com", "added_words"),
    ("st-christophers-school.org.uk", "added_words"),
    ("stchristophers.example.invoices.test", "embedded"),
])
def test_lookalike_domains(domain, kind):
    hit = lookalike(domain, PROTECTED)
    assert hit is not None and hit.kind == kind, (domain, hit)


@pytest.mark.parametrize("domain", [
    "christophers-garage.co.uk",     # merely shares a word
    "stmarys.example",
    "christopher.com",
    "st-christopher-hospice.org",    # shares words, not the name
    "mail.stchristophers.example",   # ours
    "gmail.com",
])
def test_lookalike_near_misses(domain):
    assert lookalike(domain, PROTECTED) is None


def test_distance():
    assert distance("abcd", "abdc") == 1 and distance("kitten", "sitting") == 3


async def test_lookalike_finding_on_from_and_reply_to(make_impersonation):
    check = make_impersonation()
    f = await run(check, "bursar@stchristophers-payroll.com", "Bursar", to=STAFF)
    assert by_code(f, "impersonation.lookalike_domain")[0].data["where"] == "from"
    f = await run(check, "news@example.org", "News", to=STAFF,
                  extra="Reply-To: finance@stchristophers.co.uk\r\n")
    assert by_code(f, "impersonation.lookalike_domain")[0].data["where"] == "reply_to_0"


async def test_lookalike_ignore_list(make_impersonation):
    check = make_impersonation(lookalike_ignore=["stchristophers-pta.org.uk"])
    f = await run(check, "chair@stchristophers-pta.org.uk", "PTA Chair", to=STAFF)
    assert "impersonation.lookalike_domain" not in codes(f)


async def test_reply_to_outside_when_from_claims_inside(make_impersonation):
    check = make_impersonation()
    f = await run(check, f"head@{LOCAL}", "Margaret Ellison", to=STAFF,
                  extra="Reply-To: head.teacher.office@gmail.com\r\n", mail_from="x@evil.test")
    assert "impersonation.reply_to_outside" in codes(f)
    ok = await run(check, f"head@{LOCAL}", "Margaret Ellison", to=STAFF,
                   extra=f"Reply-To: office@{LOCAL}\r\n")
    assert "impersonation.reply_to_outside" not in codes(ok)


async def test_outbound_mail_is_not_checked(make_impersonation):
    check = make_impersonation()
    raw = make_raw("x@gmail.com", display="Sarah Patel")
    env = envelope("x@gmail.com", recipients=[PUPIL], direction=Direction.OUTBOUND)
    assert await check.run(parse(raw), env) == []


async def test_own_domain_unauthenticated(make_auth, dns_server, keys):
    # the trust publishes SPF for its own server only
    dns_server.add(LOCAL, "TXT", "v=spf1 ip4:192.0.2.200 -all")
    dns_server.add(f"aup._domainkey.{LOCAL}", "TXT", keys["d"].record)
    check = make_auth()
    spoof = await check.run(parse(make_raw(f"head@{LOCAL}", display="Margaret Ellison")),
                            envelope(f"head@{LOCAL}", ip="203.0.113.66"))
    assert "impersonation.own_domain_unauthenticated" in codes(spoof)
    # signed by the trust's key (e.g. mail that came back in through a forward)
    signed = sign(make_raw(f"head@{LOCAL}"), LOCAL, "aup", keys["d"])
    ok = await check.run(parse(signed), envelope(f"srs@{unique('fwd')}", ip="203.0.113.66"))
    assert "impersonation.own_domain_unauthenticated" not in codes(ok)
    # sent by the trust's own server
    spf_ok = await check.run(parse(make_raw(f"head@{LOCAL}")),
                             envelope(f"head@{LOCAL}", ip="192.0.2.200"))
    assert "impersonation.own_domain_unauthenticated" not in codes(spf_ok)
