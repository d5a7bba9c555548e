"""Fixtures for the sender-authentication tests: a real DNS server on 127.0.0.1 serving
test zones, DKIM keys, the real directory (sample CSV in a SQLite store), and builders
for the checks, messages and envelopes."""

from __future__ import annotations

import asyncio
import base64
import itertools
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.checks import Services
from gateway.config import GatewayConfig, validate_section
from gateway.envelope import Audience, Direction, Envelope, Party
from gateway.message import Message

PROJECT = Path(__file__).resolve().parents[2]
SHARED = PROJECT.parent / "shared" / "data" / "mail"
DKIMPY_DATA = SHARED / "dkimpy" / "dkim" / "tests" / "data"
RSPAMD = SHARED / "rspamd" / "test" / "functional" / "messages"
LOCAL = "stchristophers.example"
AUTHSERV = "mx.stchristophers.example"

_unique = itertools.count(1)


def unique(prefix: str = "d") -> str:
    """A fresh domain name per test, so that tests never share cached answers."""
    return f"{prefix}{next(_unique)}.test"


class Key:
    def __init__(self, private_pem: bytes, public_b64: str) -> None:
        self.private = private_pem
        self.public = public_b64

    @property
    def record(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public}"


def new_rsa_key(bits: int = 1024) -> Key:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key(pem, base64.b64encode(der).decode())


@pytest.fixture(scope="session")
def keys() -> dict[str, Key]:
    """A few RSA keys made once (1024 bits keeps the session fast; the gateway's
    own keys from `dkim keygen` are 2048)."""
    return {name: new_rsa_key() for name in ("a", "b", "c", "d")}


@pytest.fixture(scope="session")
def shared_key() -> Key:
    """The RSA test key shipped with dkimpy's tests (shared/data)."""
    private = (DKIMPY_DATA / "test.private").read_bytes()
    record = (DKIMPY_DATA / "test.txt").read_text().strip()
    return Key(private, record.split("p=", 1)[1])


def sign(raw: bytes, domain: str, selector: str, key: Key,
         headers=(b"from", b"to", b"subject", b"date", b"message-id")) -> bytes:
    sig = dkimpy.sign(raw, selector.encode(), domain.encode(), key.private,
                      canonicalize=(b"relaxed", b"simple"), include_headers=list(headers))
    return sig + raw


def make_raw(from_addr: str, to: str = f"amy.lee@{LOCAL}", subject: str = "Hello",
             body: str = "Hello there.\r\n", extra: str = "", display: str = "") -> bytes:
    if display.startswith("=?"):
        frm = f"{display} <{from_addr}>"
    else:
        frm = f'"{display}" <{from_addr}>' if display else from_addr
    n = next(_unique)
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Sun, 29 Nov 2026 02:00:00 +0000\r\nMessage-ID: <m{n}@test>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}"
            f"\r\n{body}").encode()


def envelope(mail_from: str, ip: str = "192.0.2.10", helo: str = "mail.sender.test",
             recipients: list[Party] | None = None,
             direction: Direction = Direction.INBOUND) -> Envelope:
    recipients = recipients or [Party(f"amy.lee@{LOCAL}", Audience.PUPIL, "Amy Lee")]
    return Envelope(mail_from=mail_from, sender=Party(mail_from, Audience.EXTERNAL),
                    recipients=recipients, client_ip=ip, helo=helo, direction=direction)


def gateway_config(base_dir: Path | None = None) -> GatewayConfig:
    data = {"relay": {"local_domains": [LOCAL], "downstream": "127.0.0.1:2526"},
            "server": {"hostname": AUTHSERV}}
    if base_dir is not None:
        data["base_dir"] = base_dir
    return GatewayConfig.model_validate(data)


@pytest.fixture(scope="session")
def directory():
    """The real Directory, filled from config/directory.sample.csv through the store."""
    import tempfile

    from gateway.directory import Directory
    from quarantine.store import open_store
    from quarantine.store.directory import import_people, read_csv

    tmp = tempfile.mkdtemp(prefix="aupgate-auth-")

    async def load():
        store = await open_store(f"sqlite+aiosqlite:///{tmp}/store.db")
        async with store.transaction() as session:
            await import_people(session, read_csv(PROJECT / "config" / "directory.sample.csv"),
                                actor="tests")
        d = Directory(store, [LOCAL])
        await d.refresh()
        await store.close()
        return d

    d = asyncio.run(load())
    d.refresh_seconds = float("inf")      # the store above is closed: keep what was read
    return d


@pytest.fixture
def make_auth(dns_server):
    from gateway.checks import auth

    def factory(base_dir: Path | None = None, **overrides):
        values = {"nameservers": [dns_server.address], "dns_timeout": 0.5,
                  "time_budget": 4.0, "spf_budget": 3.0, "error_ttl": 0}
        values.update(overrides)
        settings = validate_section(auth.Settings, values, "checks.auth")
        services = Services(config=gateway_config(base_dir))
        return auth.build(settings, services)

    return factory


@pytest.fixture
def make_impersonation(directory):
    from gateway.checks import impersonation

    def factory(**overrides):
        settings = validate_section(impersonation.Settings, overrides, "checks.impersonation")
        return impersonation.build(settings, Services(config=gateway_config(),
                                                      directory=directory))

    return factory


def parse(raw: bytes) -> Message:
    return Message.parse(raw)


def codes(findings) -> set[str]:
    return {f.code for f in findings}


def by_code(findings, code):
    return [f for f in findings if f.code == code]
