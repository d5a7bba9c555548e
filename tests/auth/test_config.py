"""The shipped configuration: [checks.auth] and [checks.impersonation] validate and
build, the policy file loads, and a wrong key is refused with one clear line."""

from __future__ import annotations

import pytest

from gateway.checks import Services, auth, impersonation
from gateway.config import DEFAULT_CONFIG, ConfigError, load_config, validate_section
from gateway.envelope import Direction
from tests.auth.conftest import LOCAL, envelope, make_raw, parse


def test_shipped_sections_validate_and_build():
    config = load_config(DEFAULT_CONFIG)
    a = validate_section(auth.Settings, config.checks["auth"], "checks.auth")
    i = validate_section(impersonation.Settings, config.checks["impersonation"],
                         "checks.impersonation")
    services = Services(config=config)
    assert auth.build(a, services) is not None
    assert impersonation.build(i, services) is not None


def test_unknown_key_is_refused():
    with pytest.raises(ConfigError, match="checks.auth.nameserver: unknown key"):
        validate_section(auth.Settings, {"nameserver": ["127.0.0.1"]}, "checks.auth")
    with pytest.raises(ConfigError, match="nameservers"):
        validate_section(auth.Settings, {"nameservers": ["dns.example"]}, "checks.auth")


async def test_unreachable_dns_gives_temperror_not_pass():
    """As on a demo machine with no network: the check answers temperror, fast."""
    config = load_config(DEFAULT_CONFIG)
    settings = validate_section(auth.Settings, {"nameservers": ["127.0.0.1:9"],
                                                "dns_timeout": 0.3}, "checks.auth")
    check = auth.build(settings, Services(config=config))
    findings = await check.run(parse(make_raw(f"x@{LOCAL}")), envelope(f"x@{LOCAL}"))
    codes = {f.code for f in findings}
    assert {"auth.spf.temperror", "auth.dmarc.temperror"} <= codes
    assert not any(c.endswith(".pass") for c in codes)
    assert "impersonation.own_domain_unauthenticated" not in codes
    out = envelope(f"x@{LOCAL}", direction=Direction.OUTBOUND)
    assert await check.run(parse(make_raw(f"x@{LOCAL}")), out) == []
