"""Policy 3.2.3: pupils may email approved recipients only, decided per RCPT.

A pupil may send to the trust's own addresses and to contacts approved for them or for
one of their groups (a standing approval from the directory, or an exception a member
of staff granted until a date). Mail from outside reaches a pupil only from such a
contact. Every use of an exception is audited; a lapsed one simply no longer matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.directory import Directory
from gateway.envelope import Audience, Party, domain_of
from gateway.findings import Finding, Severity
from quarantine.store import Store, audit
from quarantine.store.directory import allowances_in_force
from quarantine.store.models import Allowance


@dataclass(frozen=True)
class RcptAnswer:
    """What RCPT gets: accepted, accepted but to be held (`finding`), or refused (`reply`)."""

    reply: str | None = None
    finding: Finding | None = None

    @property
    def accepted(self) -> bool:
        return self.reply is None


ACCEPT = RcptAnswer()


def contact_matches(contact: str, address: str) -> bool:
    contact, address = contact.lower(), address.lower()
    if "@" in contact and not contact.startswith("@"):
        return contact == address
    domain = contact.lstrip("@")
    got = domain_of(address)
    return got == domain or got.endswith("." + domain)


def subjects_of(pupil: Party) -> set[str]:
    return {pupil.address.lower(), *(f"group:{g}" for g in pupil.groups)}


async def find_allowance(store: Store, pupil: Party, other: str, direction: str
                         ) -> Allowance | None:
    subjects = subjects_of(pupil)
    async with store.session() as session:
        for a in await allowances_in_force(session):
            if (a.subject in subjects and a.direction in (direction, "both")
                    and contact_matches(a.contact, other)):
                return a
    return None


class Allowlist:
    def __init__(self, store: Store, directory: Directory, unapproved_sender_to_pupil: str):
        self.store = store
        self.directory = directory
        self.hold_unapproved = unapproved_sender_to_pupil == "hold"

    async def check(self, sender: Party, rcpt: Party) -> RcptAnswer:
        if sender.audience is Audience.PUPIL and rcpt.audience is Audience.EXTERNAL:
            return await self._pupil_sends(sender, rcpt)
        if rcpt.audience is Audience.PUPIL and sender.audience is Audience.EXTERNAL:
            return await self._pupil_receives(sender, rcpt)
        return ACCEPT

    async def _pupil_sends(self, pupil: Party, rcpt: Party) -> RcptAnswer:
        allowance = await find_allowance(self.store, pupil, rcpt.address, "send")
        if allowance is not None:
            await self._audit_use(allowance, pupil.address, rcpt.address)
            return ACCEPT
        return RcptAnswer(
            reply=f"550 5.7.1 <{rcpt.address}>: pupils may only email approved addresses, "
                  f"and this one is not on your list. Ask your teacher if you need to write "
                  f"to it (policy 3.2.3)")

    async def _pupil_receives(self, sender: Party, pupil: Party) -> RcptAnswer:
        if not sender.address:  # a bounce about the pupil's own (approved) mail
            return ACCEPT
        allowance = await find_allowance(self.store, pupil, sender.address, "receive")
        if allowance is not None:
            await self._audit_use(allowance, sender.address, pupil.address)
            return ACCEPT
        if self.hold_unapproved:
            return RcptAnswer(finding=Finding(
                "allowlist.sender_not_approved", Severity.MEDIUM, 0.0,
                f"{sender.address} is not an approved contact of pupil {pupil.address}",
                {"sender": sender.address, "pupil": pupil.address},
                recipients=(pupil.address.lower(),)))
        return RcptAnswer(
            reply=f"550 5.7.1 <{pupil.address}>: this pupil account accepts mail only from "
                  f"approved senders (policy 3.2.3)")

    async def _audit_use(self, allowance: Allowance, sender: str, rcpt: str) -> None:
        if allowance.kind != "exception":
            return
        async with self.store.transaction() as session:
            await audit.append(session, actor="aupgate", action="exception.use",
                               subject=allowance.subject,
                               detail={"id": allowance.id, "from": sender, "to": rcpt})
