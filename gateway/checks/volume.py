"""Volume: how widely a message is sent. Appendix I weighs "the numbers being received
and/or sent on"; a message to a whole year group from outside is worth a look."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.envelope import Envelope
from gateway.findings import Finding, Severity
from gateway.message import Message

NAME = "volume"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    many_recipients: int = Field(25, ge=2)


class VolumeCheck:
    name = NAME

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self, message: Message, envelope: Envelope) -> list[Finding]:
        count = len(envelope.recipients)
        if count < self.settings.many_recipients:
            return []
        return [Finding("volume.too_many_recipients", Severity.LOW, 1.0,
                        f"Sent to {count} recipients at once "
                        f"(more than {self.settings.many_recipients - 1})",
                        {"recipients": count})]


def build(settings: Settings, services) -> VolumeCheck:
    return VolumeCheck(settings)
