"""Delivering what reviewers released from the quarantine.

A release is a row in the store (written by the review app). This job, running inside
every gateway, claims due releases and delivers them; a temporary failure is retried
with back-off, a permanent one is recorded. Delivery is idempotent per release: the
row is marked delivered in the same step that follows the downstream server's accept,
and a crash between the two at worst delivers the same release twice, never zero times.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.delivery import Delivery, DeliveryError
from gateway.headers import edit_headers
from quarantine.store import Store
from quarantine.store.held import due_releases, release_done, release_failed
from quarantine.store.models import HeldMessage

log = logging.getLogger(__name__)


class ReleaseWorker:
    def __init__(self, store: Store, delivery: Delivery, interval: float = 2.0) -> None:
        self.store = store
        self.delivery = delivery
        self.interval = interval
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="release-worker")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - keep the job alive; the rows say what failed
                log.exception("release job failed")
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        # On PostgreSQL several gateways share the store; SKIP LOCKED would let them
        # split the work. Releases are rare, so one row at a time under a row lock.
        delivered = 0
        async with self.store.session() as session:
            due = await due_releases(session)
        for release in due:
            async with self.store.transaction() as session:
                held = await session.get(HeldMessage, release.held_id)
                release = await session.merge(release)
                if release.status != "pending":
                    continue
                if held is None or held.raw is None:
                    await release_failed(session, release, "the message was purged",
                                         permanent=True)
                    continue
                data = edit_headers(held.raw, add=[("X-Aupgate-Released",
                                                    f"{release.id} by {release.requested_by}")])
                try:
                    await self.delivery.deliver(held.mail_from, list(release.rcpt_tos), data)
                except DeliveryError as e:
                    await release_failed(session, release, str(e), permanent=e.permanent)
                    continue
                await release_done(session, release.id)
                delivered += 1
        return delivered
