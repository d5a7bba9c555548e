"""The append-only, hash-chained audit log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own
canonical fields, so altering, deleting or reordering any row breaks every hash after
it; `verify` finds the first break. Mail may be evidence in legal proceedings (policy
2.1.3); this is how the trust shows who looked at what.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, subject: str,
               detail: str, client: str) -> str:
    fields = json.dumps([prev_hash, seq, at, actor, action, subject, detail, client],
                        separators=(",", ":"))
    return hashlib.sha256(fields.encode()).hexdigest()


async def append(session: AsyncSession, *, actor: str, action: str, subject: str = "",
                 detail: dict[str, Any] | None = None, client: str = "") -> AuditEntry:
    """Add one entry inside the caller's transaction (committed with the caller's work)."""
    # Taking the head row for update first serialises appenders on both backends.
    row = (await session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash))).one()
    seq, prev = row
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    detail_text = canonical(detail or {})
    digest = entry_hash(prev, seq, at, actor, action, subject, detail_text, client)
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject,
                       detail=detail_text, client=client, prev_hash=prev, hash=digest)
    session.add(entry)
    await session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    return entry


@dataclass
class Verification:
    ok: bool
    entries: int
    problem: str = ""


async def verify(session: AsyncSession) -> Verification:
    prev = GENESIS
    expected_seq = 1
    count = 0
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.seq))
    async for e in result:
        count += 1
        if e.seq != expected_seq:
            return Verification(False, count, f"entry {expected_seq} is missing (next is {e.seq})")
        if e.prev_hash != prev:
            return Verification(False, count, f"entry {e.seq} does not follow entry {e.seq - 1}")
        if entry_hash(prev, e.seq, e.at, e.actor, e.action, e.subject, e.detail,
                      e.client) != e.hash:
            return Verification(False, count, f"entry {e.seq} was altered")
        prev = e.hash
        expected_seq += 1
    head = await session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.last_hash != prev):
        return Verification(False, count, f"the log ends at entry {count} but the head "
                                          f"says {head.seq}: entries were removed")
    return Verification(True, count)
