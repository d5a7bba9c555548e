"""Outbound mail leaves signed with the trust's key, and verifies against the record
`aupgate dkim keygen` told the IT manager to publish."""

from __future__ import annotations

import re
import uuid

import dkim

from tests.support import STAFF, TRUSTED_IP, make_message, run_aupgate


def test_outbound_mail_is_signed_and_verifies_against_the_published_record(
        gateway_factory, sink, tmp_path, dns_server):
    selector = f"e2e{uuid.uuid4().hex[:8]}"  # the DNS server lives for the whole session
    keygen = run_aupgate("dkim", "keygen", "stchristophers.example", selector, "--out",
                         str(tmp_path))
    assert keygen.returncode == 0, keygen.stderr
    printed = keygen.stdout.decode()
    record = "".join(re.findall(r'"([^"]*)"', printed.split("IN TXT", 1)[1].split(")")[0]))
    dns_server.add(f"{selector}._domainkey.stchristophers.example", "TXT", record)
    key_file = tmp_path / f"stchristophers.example.{selector}.key"
    gw = gateway_factory(**{"checks.auth.signing_keys": [
        {"domain": "stchristophers.example", "selector": selector, "key_file": str(key_file)}]})

    msg = make_message(STAFF, ["parent@elsewhere.example"], subject="Trip letter")
    with gw.smtp(TRUSTED_IP) as client:
        assert client.send_message(msg) == {}
    [got] = sink.wait_for(1)
    delivered = got.split(b"\r\n", 1)[1]           # without the sink's envelope line
    assert delivered.startswith(b"DKIM-Signature: ") or b"\r\nDKIM-Signature: " in delivered

    def dnsfunc(name, timeout=5):
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        host, port = dns_server.address.split(":")
        resolver.nameservers, resolver.port = [host], int(port)
        answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(b"".join(r.strings) for r in answer)

    assert dkim.verify(delivered, dnsfunc=dnsfunc)
    tampered = delivered.replace(b"Trip letter", b"Trip Letter")
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
