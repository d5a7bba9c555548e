"""One honest Authentication-Results: ours is added, forged ones claiming our
authserv-id are removed first, others' are kept."""

from __future__ import annotations

import authres

from gateway.auth.results_header import authserv_id_of, claims
from gateway.envelope import Direction
from tests.auth.conftest import AUTHSERV, LOCAL, codes, envelope, make_raw, parse, sign, unique

FORGED = [
    f"{AUTHSERV}; spf=pass smtp.mailfrom=ceo@bank.test; dkim=pass; dmarc=pass",
    f"  {AUTHSERV.upper()} ; dkim=pass",
    f"(looks legit) {AUTHSERV} 1; spf=pass",
    f'"{AUTHSERV}"; dmarc=pass',
    f"{AUTHSERV}.; arc=pass",
    f"{AUTHSERV};\r\n\tspf=pass",
]
OTHERS = ["mx.google.com; dkim=pass header.i=@outlook.com",
          f"mail.{LOCAL}.evil.test; spf=pass",
          f"x{AUTHSERV}; spf=pass"]


def test_authserv_id_parsing():
    assert authserv_id_of("(c) mx.a.test (more (nested)) 1; none") == "mx.a.test"
    assert all(claims(v, AUTHSERV) for v in FORGED)
    assert not any(claims(v, AUTHSERV) for v in OTHERS)


async def test_forged_header_removed_and_ours_added(make_auth, dns_server, keys):
    sender = unique("hdr")
    dns_server.add(f"_dmarc.{sender}", "TXT", "v=DMARC1; p=none")
    dns_server.add(sender, "TXT", "v=spf1 ip4:192.0.2.10 -all")
    dns_server.add(f"k._domainkey.{sender}", "TXT", keys["a"].record)
    extra = "".join(f"Authentication-Results: {v}\r\n" for v in FORGED[:1] + OTHERS[:1])
    raw = sign(make_raw(f"x@{sender}", extra=extra), sender, "k", keys["a"])
    check = make_auth()
    msg, env = parse(raw), envelope(f"b@{sender}", ip="192.0.2.10", helo=f"mail.{sender}")
    findings = await check.run(msg, env)
    edits = check.headers(msg, env, findings)

    present = [(k, str(v)) for k, v in msg.email.raw_items()]
    kept = [(k, v) for k, v in present if not any(rm(k, v) for rm in edits.remove)]
    assert [v for k, v in present if k == "Authentication-Results"] != \
        [v for k, v in kept if k == "Authentication-Results"]
    assert not any(claims(v, AUTHSERV) for k, v in kept if k == "Authentication-Results")
    assert any(v.startswith("mx.google.com") for k, v in kept)

    [(name, value)] = edits.add
    assert name == "Authentication-Results"
    parsed = authres.AuthenticationResultsHeader.parse(f"{name}: {value}")
    assert parsed.authserv_id == AUTHSERV
    results = {(r.method, r.result) for r in parsed.results}
    assert {("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")} <= results


async def test_temperror_shows_in_the_header(make_auth, dns_server):
    sender = unique("hdrtemp")
    dns_server.servfail(sender)
    dns_server.servfail(f"_dmarc.{sender}")
    check = make_auth()
    msg, env = parse(make_raw(f"x@{sender}")), envelope(f"b@{sender}")
    value = check.headers(msg, env, await check.run(msg, env)).add[0][1]
    parsed = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
    results = {(r.method, r.result) for r in parsed.results}
    assert {("spf", "temperror"), ("dmarc", "temperror")} <= results


async def test_outbound_gets_no_header_but_forgeries_still_go(make_auth):
    check = make_auth()
    env = envelope(f"staff@{LOCAL}", direction=Direction.OUTBOUND)
    msg = parse(make_raw(f"staff@{LOCAL}"))
    assert await check.run(msg, env) == []
    edits = check.headers(msg, env, [])
    assert edits.add == [] and edits.remove[0]("Authentication-Results", FORGED[0])


async def test_edits_applied_to_the_bytes_keep_the_signature_valid(make_auth, dns_server, keys):
    """Through gateway.headers.edit_headers, as the pipeline applies them: the forged
    header is gone, ours is first, and the sender's DKIM signature still verifies."""
    from gateway.headers import edit_headers

    sender = unique("bytes")
    dns_server.add(f"k._domainkey.{sender}", "TXT", keys["a"].record)
    forged = f"Authentication-Results: {AUTHSERV};\r\n\tdkim=pass header.d=bank.test\r\n"
    raw = sign(make_raw(f"x@{sender}", extra=forged), sender, "k", keys["a"])
    check = make_auth(spf=False)
    msg, env = parse(raw), envelope(f"x@{sender}")
    edits = check.headers(msg, env, await check.run(msg, env))
    out = edit_headers(raw, add=edits.add, remove=edits.remove)
    assert out.startswith(f"Authentication-Results: {AUTHSERV};".encode())
    assert b"bank.test" not in out
    again = await make_auth(spf=False, dmarc=False, arc=False).run(parse(out), env)
    assert codes(again) == {"auth.dkim.pass"}
