"""Outbound DKIM signing: keys from `aupgate dkim keygen`, published in the test DNS,
and the signed mail verifies with dkimpy (and with the gateway's own verifier)."""

from __future__ import annotations

import argparse
import re

import dkim as dkimpy
import dns.resolver
import pytest

from gateway.auth import cli
from gateway.config import ConfigError
from gateway.envelope import Audience, Direction, Party
from tests.auth.conftest import LOCAL, codes, envelope, make_raw, parse

OUT = [Party("author@publisher.test", Audience.EXTERNAL)]


def keygen(tmp_path, capsys, selector, algorithm="rsa"):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dkim", "keygen", LOCAL, selector, "--out", str(tmp_path),
                              "--algorithm", algorithm])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    record = re.search(r"IN TXT \( (.*) \)", out).group(1)
    value = "".join(re.findall(r'"([^"]*)"', record))
    return tmp_path / f"{LOCAL}.{selector}.key", value


def dnsfunc_for(server):
    """dkimpy's lookup, pointed at the test DNS server instead of the system's."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port

    def dnsfunc(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode(), "TXT", lifetime=timeout)
        except dns.exception.DNSException:
            return None
        return b"".join(answer[0].strings)

    return dnsfunc


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
async def test_outbound_mail_is_signed_and_verifies(make_auth, dns_server, tmp_path, capsys,
                                                    algorithm):
    selector = f"out{algorithm}"
    key_file, value = keygen(tmp_path, capsys, selector, algorithm)
    assert (key_file.stat().st_mode & 0o777) == 0o600
    dns_server.add(f"{selector}._domainkey.{LOCAL}", "TXT", value)
    a = "ed25519-sha256" if algorithm == "ed25519" else "rsa-sha256"
    check = make_auth(base_dir=tmp_path, signing_keys=[
        {"domain": LOCAL, "selector": selector, "key_file": key_file.name, "algorithm": a}])
    raw = make_raw(f"j.harris@{LOCAL}", to="author@publisher.test", display="James Harris")
    out_env = envelope(f"j.harris@{LOCAL}", recipients=OUT, direction=Direction.OUTBOUND)
    signed = check.rewrite(raw, out_env)
    assert signed.startswith(b"DKIM-Signature:") and signed.endswith(raw)
    assert dkimpy.verify(signed, dnsfunc=dnsfunc_for(dns_server))
    # and the gateway's own inbound verifier agrees
    inbound = await make_auth(spf=False, dmarc=False, arc=False).run(
        parse(signed), envelope(f"j.harris@{LOCAL}"))
    assert codes(inbound) == {"auth.dkim.pass"}
    # tampering is caught
    assert not dkimpy.verify(signed.replace(b"Hello there", b"Hello THERE"),
                             dnsfunc=dnsfunc_for(dns_server))


async def test_subdomain_uses_the_parent_key_and_others_are_untouched(make_auth, dns_server,
                                                                      tmp_path, capsys):
    key_file, value = keygen(tmp_path, capsys, "sub")
    dns_server.add(f"sub._domainkey.{LOCAL}", "TXT", value)
    check = make_auth(base_dir=tmp_path, signing_keys=[
        {"domain": LOCAL, "selector": "sub", "key_file": str(key_file)}])
    out_env = envelope(f"x@lists.{LOCAL}", recipients=OUT, direction=Direction.OUTBOUND)
    signed = check.rewrite(make_raw(f"news@lists.{LOCAL}"), out_env)
    assert b"d=stchristophers.example" in signed
    assert dkimpy.verify(signed, dnsfunc=dnsfunc_for(dns_server))
    other = make_raw("someone@elsewhere.test")
    assert check.rewrite(other, out_env) == other                      # not our domain
    inbound = make_raw(f"x@{LOCAL}")
    assert check.rewrite(inbound, envelope(f"x@{LOCAL}")) == inbound   # not outbound


def test_missing_key_file_stops_the_start(make_auth, tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        make_auth(base_dir=tmp_path, signing_keys=[
            {"domain": LOCAL, "selector": "x", "key_file": "nope.key"}])


def test_keygen_refuses_a_bad_domain(tmp_path, capsys):
    args = argparse.Namespace(domain="nodot", selector="s", out=str(tmp_path),
                              algorithm="rsa", bits=2048)
    assert cli.handler(args) == 2
