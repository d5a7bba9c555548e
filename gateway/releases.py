"""Delivering what reviewers released from the quarantine.

A release is a row in the store (written by the review app). This job, running inside
every gateway, claims due releases and delivers them; a temporary failure is retried
with back-off, a permanent one is recorded. A release is marked delivered only after
the downstream server accepted it, so a crash between the two at worst delivers the
same release twice, never zero times; a claim keeps two gateways from racing for it.
"""

from __future__ import annotations

import logging

from gateway.delivery import Delivery, DeliveryError
from gateway.headers import edit_headers
from quarantine.jobs import PeriodicJob
from quarantine.store import Store
from quarantine.store.held import claim_release, due_releases, release_done, release_failed
from quarantine.store.models import HeldMessage, Release

log = logging.getLogger(__name__)


class ReleaseWorker:
    def __init__(self, store: Store, delivery: Delivery, interval: float = 2.0) -> None:
        self.store = store
        self.delivery = delivery
        # a failed pass is logged and the next tries again; the rows say what failed
        self._job = PeriodicJob("release-worker", self.run_once, interval)

    def start(self) -> None:
        self._job.start()

    async def close(self) -> None:
        await self._job.stop()

    async def run_once(self) -> int:
        delivered = 0
        async with self.store.session() as session:
            due = [(r.id, r.held_id) for r in await due_releases(session)]
        for release_id, held_id in due:
            # Claim, deliver, record: three steps, so that no database transaction stays
            # open while the downstream server takes its time.
            async with self.store.transaction() as session:
                if not await claim_release(session, release_id):
                    continue  # another gateway has it
                release = await session.get(Release, release_id)
                held = await session.get(HeldMessage, held_id)
                if held is None or held.raw is None:
                    await release_failed(session, release, "the message was purged",
                                         permanent=True)
                    continue
                data = edit_headers(held.raw, add=[("X-Aupgate-Released",
                                                    f"{release.id} by {release.requested_by}")])
                mail_from, rcpts = held.mail_from, list(release.rcpt_tos)
            try:
                await self.delivery.deliver(mail_from, rcpts, data)
            except DeliveryError as e:
                async with self.store.transaction() as session:
                    release = await session.get(Release, release_id)
                    await release_failed(session, release, str(e), permanent=e.permanent)
                continue
            async with self.store.transaction() as session:
                await release_done(session, release_id)
            delivered += 1
        return delivered
