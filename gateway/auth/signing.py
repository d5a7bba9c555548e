"""Outbound DKIM signing with the trust's keys, and key generation for `dkim keygen`.

A key is (domain, selector, algorithm, private key file). Mail whose From domain is a
signing domain, or a subdomain of one, is signed with every key of that domain (an
rsa-sha256 and an ed25519-sha256 key may be used side by side). From, To, Cc, Subject,
Date, Reply-To and Message-ID are signed one extra time so that none can be added later.
"""

from __future__ import annotations

import base64
import email.utils
import os
from dataclasses import dataclass
from pathlib import Path

import dkim as dkimpy

SIGN_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"reply-to", b"message-id",
                b"in-reply-to", b"references", b"mime-version", b"content-type",
                b"content-transfer-encoding", b"list-unsubscribe")
OVERSIGN = (b"from", b"to", b"cc", b"subject", b"date", b"reply-to", b"message-id")


@dataclass(frozen=True)
class SigningKey:
    domain: str
    selector: str
    algorithm: str        # "rsa-sha256" or "ed25519-sha256"
    private_key: bytes    # PEM (RSA) or base64 seed (ed25519), as dkimpy wants


def load_key(domain: str, selector: str, path: Path, algorithm: str = "") -> SigningKey:
    data = path.read_bytes()
    if not algorithm:
        algorithm = "rsa-sha256" if b"-----BEGIN" in data else "ed25519-sha256"
    return SigningKey(domain.lower().rstrip("."), selector, algorithm, data.strip())


class Signer:
    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = keys

    def keys_for(self, domain: str) -> list[SigningKey]:
        domain = domain.lower().rstrip(".")
        exact = [k for k in self.keys if k.domain == domain]
        if exact:
            return exact
        parents = [k for k in self.keys if domain.endswith("." + k.domain)]
        longest = max((len(k.domain) for k in parents), default=0)
        return [k for k in parents if len(k.domain) == longest]

    def sign(self, raw: bytes) -> bytes:
        """`raw` with DKIM-Signature fields prepended; unchanged when no key applies."""
        keys = self.keys_for(_from_domain(raw))
        if not keys:
            return raw
        linesep = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
        headers = _present(raw)
        include = [h for h in SIGN_HEADERS if h in headers]
        include += [h for h in OVERSIGN if h in headers] + [b"from"] * (b"from" not in headers)
        signatures = b""
        for key in keys:
            signatures += dkimpy.sign(
                raw, key.selector.encode(), key.domain.encode(), key.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=key.algorithm.encode(), include_headers=include,
                linesep=linesep)
        return signatures + raw


def _present(raw: bytes) -> set[bytes]:
    try:
        headers, _ = dkimpy.rfc822_parse(raw)
    except Exception:  # noqa: BLE001
        return set()
    return {name.lower() for name, _ in headers}


def _from_domain(raw: bytes) -> str:
    try:
        headers, _ = dkimpy.rfc822_parse(raw)
    except Exception:  # noqa: BLE001
        return ""
    for name, value in headers:
        if name.lower() == b"from":
            _, addr = email.utils.parseaddr(value.decode("utf-8", "replace").strip())
            return addr.rpartition("@")[2]
    return ""


# -- key generation ------------------------------------------------------------------------


def generate_key(algorithm: str = "rsa", bits: int = 2048) -> tuple[bytes, str]:
    """(private key bytes to store, public p= value for the DNS record)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
        return base64.b64encode(seed) + b"\n", base64.b64encode(public).decode()
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(der).decode()


def txt_value(algorithm: str, public: str) -> str:
    return f"v=DKIM1; k={'ed25519' if algorithm == 'ed25519' else 'rsa'}; p={public}"


def zone_record(domain: str, selector: str, value: str) -> str:
    """A zone-file line; the value is split into strings of at most 255 characters."""
    chunks = [value[i:i + 250] for i in range(0, len(value), 250)]
    quoted = " ".join(f'"{c}"' for c in chunks)
    return f"{selector}._domainkey.{domain}. 3600 IN TXT ( {quoted} )"


def write_key(out_dir: Path, domain: str, selector: str, private: bytes) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{domain}.{selector}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    return path
