"""A short mail to the reviewers when a message is escalated or a rule asks for an alert.

The held copy is already committed when this runs, so an alert that cannot be sent
costs a notification, not evidence: it is logged and the queue still shows the message.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from gateway.config import AlertsConfig
from gateway.delivery import Delivery, DeliveryError
from gateway.envelope import Envelope

log = logging.getLogger(__name__)


class Alerts:
    def __init__(self, config: AlertsConfig, delivery: Delivery) -> None:
        self.config = config
        self.delivery = delivery

    async def send(self, held_id: str, outcome, envelope: Envelope, decisions) -> None:
        if not self.config.reviewers:
            return
        msg = EmailMessage()
        msg["From"] = self.config.from_address
        msg["To"] = ", ".join(self.config.reviewers)
        msg["Subject"] = f"[aupgate] Held for review: {outcome.message.subject[:120]}"
        msg["Date"] = formatdate()
        msg["Message-ID"] = make_msgid(domain=self.config.from_address.rpartition("@")[2])
        msg["X-Aupgate-Alert"] = held_id
        reasons = sorted({r for d in decisions for r in d.reasons})
        msg.set_content(
            f"A message needs a reviewer.\n\n"
            f"From: {envelope.mail_from}\nTo: {', '.join(envelope.rcpt_tos)}\n"
            f"Subject: {outcome.message.subject}\n\nWhy:\n"
            + "".join(f"  - {r}\n" for r in reasons)
            + f"\nReview it at {self.config.web_url}/messages/{held_id}\n"
            "The message itself is not attached: open it in the review app.\n")
        await self.mail(msg)

    async def mail(self, msg: EmailMessage) -> None:
        """Send a notice the gateway wrote itself (alerts, acknowledgements)."""
        try:
            await self.delivery.deliver(self.config.from_address,
                                        [a.strip() for a in msg["To"].split(",")],
                                        msg.as_bytes())
        except DeliveryError as e:
            log.error("could not send a notice to %s: %s", msg["To"], e)
