"""Senders a reviewer allowed ("allow the sender" in the review app).

An allowed sender's mail earns a negative score, as SpamAssassin's whitelist entries do:
it no longer crosses the policy's score thresholds by itself, but every rule still
applies. A virus, a banned attachment, gross content or a DMARC failure is held whoever
the sender claims to be, because an allowed address can be forged.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from gateway.envelope import Envelope
from gateway.findings import Finding, Severity
from gateway.message import Message
from quarantine.store.reviews import SenderAllow

NAME = "senders"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    score: float = Field(-5.0, le=0)
    refresh_seconds: float = Field(10.0, gt=0)


class AllowedSenders:
    name = NAME

    def __init__(self, settings: Settings, store) -> None:
        self.settings = settings
        self.store = store
        self._entries: dict[str, str] = {}          # address or @domain -> reason
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.settings.refresh_seconds:
            return
        async with self.store.session() as session:
            rows = (await session.scalars(
                select(SenderAllow).where(SenderAllow.revoked_at.is_(None)))).all()
        self._entries = {r.address.lower(): r.reason for r in rows}
        self._loaded_at = time.monotonic()

    def match(self, address: str) -> str | None:
        address = address.lower()
        if address in self._entries:
            return address
        domain = "@" + address.rpartition("@")[2]
        return domain if domain in self._entries else None

    async def run(self, message: Message, envelope: Envelope) -> list[Finding]:
        await self._refresh()
        if not self._entries:
            return []
        for address in (envelope.mail_from, message.from_address):
            entry = self.match(address or "")
            if entry:
                return [Finding("sender.allowed", Severity.INFO, self.settings.score,
                                f"A reviewer allowed {entry}: {self._entries[entry]}",
                                {"entry": entry})]
        return []


def build(settings: Settings, services) -> AllowedSenders | None:
    if not settings.enabled or services is None or services.store is None:
        return None
    return AllowedSenders(settings, services.store)
