"""ARC: a forwarded message whose DKIM broke on the way, sealed by a trusted sealer,
stands; the same from an untrusted sealer does not; a tampered chain fails."""

from __future__ import annotations

import dkim as dkimpy
import pytest

from gateway.config import PROJECT_ROOT
from gateway.envelope import Audience, Party
from gateway.policy import Action, Policy
from tests.auth.conftest import (
    LOCAL,
    RSPAMD,
    by_code,
    codes,
    envelope,
    make_raw,
    parse,
    sign,
    unique,
)


def forward(raw: bytes, sealer: str, key, sender: str, saw: str = "") -> bytes:
    """What a forwarding service does: change the body (footer), record what it saw in
    its Authentication-Results, and add an ARC set."""
    head, _, body = raw.partition(b"\r\n\r\n")
    raw = head + b"\r\n\r\n" + body + b"-- \r\nSent through the trust's cloud mail\r\n"
    chain = "arc=pass; " if b"ARC-Seal:" in raw else ""     # what the sealer verified
    saw = saw or (f"dkim=pass header.d={sender}; spf=pass smtp.mailfrom=bounce@{sender}; "
                  f"dmarc=pass header.from={sender}")
    ar = f"Authentication-Results: mx.{sealer}; {chain}{saw}\r\n"
    raw = ar.encode() + raw
    arc = dkimpy.arc_sign(raw, b"arc", sealer.encode(), key.private, f"mx.{sealer}".encode())
    return b"".join(arc) + raw


@pytest.fixture
def forwarded(dns_server, keys):
    sender, sealer = unique("orig"), unique("cloudmail")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=reject")
    dns_server.add(sender, "TXT", "v=spf1 ip4:192.0.2.1 -all")
    dns_server.add(f"k._domainkey.{sender}", "TXT", keys["a"].record)
    dns_server.add(f"arc._domainkey.{sealer}", "TXT", keys["c"].record)
    original = sign(make_raw(f"head@{sender}", to=f"j.harris@{LOCAL}"), sender, "k", keys["a"])
    return sender, sealer, forward(original, sealer, keys["c"], sender)


def staff_env(sealer):
    return envelope(f"srs@{sealer}", ip="198.51.100.77", helo=f"out.{sealer}",
                    recipients=[Party(f"j.harris@{LOCAL}", Audience.STAFF)])


async def test_trusted_sealer_stands_in_for_broken_dkim(make_auth, forwarded):
    sender, sealer, raw = forwarded
    findings = await make_auth(trusted_arc_sealers=[sealer]).run(parse(raw), staff_env(sealer))
    found = codes(findings)
    assert {"auth.dkim.fail", "auth.arc.pass", "auth.arc.trusted_sealer",
            "auth.dmarc.override.arc"} <= found
    assert "auth.dmarc.fail.reject" not in found
    assert by_code(findings, "auth.arc.trusted_sealer")[0].data["sealer_results"]["dmarc"] == "pass"
    policy = Policy.load(PROJECT_ROOT / "config" / "policy.toml")
    env = staff_env(sealer)
    assert policy.decide(findings, env)[0].action <= Action.TAG


async def test_untrusted_sealer_does_not(make_auth, forwarded):
    sender, sealer, raw = forwarded
    findings = await make_auth(trusted_arc_sealers=["other.test"]).run(parse(raw),
                                                                      staff_env(sealer))
    found = codes(findings)
    assert "auth.arc.pass" in found and "auth.arc.trusted_sealer" not in found
    assert {"auth.dmarc.fail", "auth.dmarc.fail.reject"} <= found


async def test_tampered_after_sealing_fails(make_auth, forwarded):
    sender, sealer, raw = forwarded
    raw = raw.replace(b"Subject: Hello", b"Subject: Urgent invoice")
    findings = await make_auth(trusted_arc_sealers=[sealer]).run(parse(raw), staff_env(sealer))
    found = codes(findings)
    assert "auth.arc.fail" in found
    assert not found & {"auth.arc.pass", "auth.arc.trusted_sealer", "auth.dmarc.override.arc"}


async def test_two_hops_then_trusted_sealer(make_auth, dns_server, keys, forwarded):
    sender, first, raw = forwarded
    second = unique("list")
    dns_server.add(f"arc._domainkey.{second}", "TXT", keys["d"].record)
    raw = forward(raw, second, keys["d"], sender)
    findings = await make_auth(trusted_arc_sealers=[second]).run(parse(raw), staff_env(second))
    arc = by_code(findings, "auth.arc.pass")[0]
    assert arc.data["instances"] == 2 and arc.data["sealer"] == second


@pytest.mark.parametrize("name", ["arcallow.eml", "arcbad.eml"])
async def test_rspamd_arc_messages_without_their_keys(make_auth, name):
    """Google's and Microsoft's ARC keys are not in the test DNS: no pass, no crash."""
    raw = (RSPAMD / name).read_bytes()
    findings = await make_auth(trusted_arc_sealers=["google.com"]).run(
        parse(raw), envelope("x@outlook.com", ip="209.85.220.41"))
    found = codes(findings)
    assert "auth.arc.fail" in found
    assert not found & {"auth.arc.pass", "auth.arc.trusted_sealer"}


async def test_sealer_results_count_only_for_the_from_domain(make_auth, dns_server, keys):
    """A trusted sealer that saw a pass for some other domain does not vouch for this
    From: the attacker's own DKIM pass at the cloud provider is not the sender's."""
    sender, sealer = unique("victim"), unique("cloudmail")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=reject")
    dns_server.add(f"arc._domainkey.{sealer}", "TXT", keys["c"].record)
    raw = forward(make_raw(f"head@{sender}"), sealer, keys["c"], sender,
                  saw="dkim=pass header.d=attacker.test; spf=pass smtp.mailfrom=x@attacker.test;"
                      f" dmarc=fail header.from={sender}")
    findings = await make_auth(trusted_arc_sealers=[sealer]).run(parse(raw), staff_env(sealer))
    found = codes(findings)
    assert "auth.arc.trusted_sealer" in found
    assert "auth.dmarc.override.arc" not in found and "auth.dmarc.fail.reject" in found
