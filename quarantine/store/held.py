"""Traces of every message, messages held whole, and releases waiting for delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store import audit
from quarantine.store.models import HeldMessage, KeptMessage, Release, Trace

# How long a failing release waits before the next try: 1, 2, 4 … minutes, at most 1 hour.
RELEASE_BACKOFF_MAX = timedelta(hours=1)


def new_id() -> str:
    return uuid.uuid4().hex


async def record_trace(session: AsyncSession, **fields: Any) -> Trace:
    fields.setdefault("id", new_id())
    fields.setdefault("received_at", datetime.now(UTC))
    trace = Trace(**fields)
    session.add(trace)
    return trace


async def hold(session: AsyncSession, *, raw: bytes, sha256: str, kind: str = "quarantine",
               **fields: Any) -> HeldMessage:
    """Keep a message whole. Durable once the caller's transaction commits."""
    held = HeldMessage(id=new_id(), held_at=datetime.now(UTC), kind=kind, raw=raw,
                       sha256=sha256, size=len(raw), status="held", **fields)
    session.add(held)
    await session.flush()
    await audit.append(session, actor="aupgate", action=f"message.{kind}", subject=held.id,
                       detail={"sha256": sha256, "rcpt_tos": held.rcpt_tos,
                               "category": held.category})
    return held


async def request_release(session: AsyncSession, held: HeldMessage, *, rcpt_tos: list[str],
                          requested_by: str, client: str = "") -> Release:
    """Ask the gateway to deliver a held message. Releasing twice is one release."""
    existing = (await session.scalars(select(Release).where(
        Release.held_id == held.id, Release.status != "failed"))).first()
    if existing is not None and sorted(existing.rcpt_tos) == sorted(rcpt_tos):
        return existing
    now = datetime.now(UTC)
    release = Release(held_id=held.id, rcpt_tos=rcpt_tos, requested_by=requested_by,
                      requested_at=now, next_attempt_at=now, status="pending")
    session.add(release)
    held.status = "released"
    await session.flush()
    await audit.append(session, actor=requested_by, action="message.release", subject=held.id,
                       client=client, detail={"release": release.id, "rcpt_tos": rcpt_tos})
    return release


async def due_releases(session: AsyncSession, limit: int = 20) -> list[Release]:
    now = datetime.now(UTC)
    stmt = (select(Release).where(Release.status == "pending", Release.next_attempt_at <= now)
            .order_by(Release.next_attempt_at).limit(limit))
    return list((await session.scalars(stmt)).all())


async def claim_release(session: AsyncSession, release_id: int,
                        lease: timedelta = timedelta(minutes=5)) -> bool:
    """Take a due release for this node. Several gateways share the store: the claim
    pushes the release's next attempt past a lease, so the others skip it; a node that
    dies mid-delivery leaves it to be tried again when the lease runs out."""
    now = datetime.now(UTC)
    result = await session.execute(
        update(Release)
        .where(Release.id == release_id, Release.status == "pending",
               Release.next_attempt_at <= now)
        .values(next_attempt_at=now + lease))
    return result.rowcount == 1


async def release_done(session: AsyncSession, release_id: int) -> None:
    await session.execute(update(Release).where(Release.id == release_id).values(
        status="delivered", delivered_at=datetime.now(UTC)))
    await audit.append(session, actor="aupgate", action="release.delivered",
                       subject=str(release_id))


async def release_failed(session: AsyncSession, release: Release, error: str, *,
                         permanent: bool) -> None:
    release.attempts += 1
    release.last_error = error[:2000]
    if permanent:
        release.status = "failed"
    else:
        delay = min(timedelta(minutes=2 ** min(release.attempts - 1, 10)), RELEASE_BACKOFF_MAX)
        release.next_attempt_at = datetime.now(UTC) + delay
    session.add(release)


async def purge_expired(session: AsyncSession, retention_days: int, *, actor: str = "aupgate"
                        ) -> int:
    """Drop the bodies of held messages older than the retention; rows and audit stay."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    stmt = select(HeldMessage).where(HeldMessage.held_at < cutoff, HeldMessage.raw.is_not(None))
    purged = list((await session.scalars(stmt)).all())
    now = datetime.now(UTC)
    for held in purged:
        held.raw = None
        held.purged_at = now
        held.status = "purged" if held.status == "held" else held.status
    if purged:
        await audit.append(session, actor=actor, action="retention.purge",
                           detail={"held_ids": [h.id for h in purged],
                                   "retention_days": retention_days})
    return len(purged)


async def purge_kept(session: AsyncSession, keep_days: int) -> int:
    """Drop delivered messages' bodies past their keeping time (all of them at 0 days)."""
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    result = await session.execute(delete(KeptMessage).where(KeptMessage.kept_at < cutoff))
    return result.rowcount or 0
