"""The SMTP envelope of one message and who each address is to the trust."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Direction(enum.StrEnum):
    INBOUND = "inbound"     # from anywhere to the trust's domains (the MX role)
    OUTBOUND = "outbound"   # from the academy mail server to anywhere (the smarthost role)


class Audience(enum.StrEnum):
    PUPIL = "pupil"
    STAFF = "staff"
    EXTERNAL = "external"


@dataclass(frozen=True)
class Party:
    """An address and what the directory knows of it."""

    address: str
    audience: Audience
    name: str = ""
    groups: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        return domain_of(self.address)


@dataclass
class Envelope:
    mail_from: str
    sender: Party
    recipients: list[Party]
    client_ip: str
    helo: str
    direction: Direction
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def rcpt_tos(self) -> list[str]:
        return [r.address for r in self.recipients]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def normalise_address(address: str) -> str:
    """Lower-case the domain, keep the local part as given, drop angle brackets."""
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.lower().rstrip('.')}"
