"""Find the copy of a reported message that the gateway itself saw.

A forwarded copy can be edited by whoever forwards it; the gateway's copy cannot. So a
report is linked to the original: first by Message-ID, then by sender, date and subject,
in the traces of what passed through. The trace that names the reporter as a recipient
wins over others with the same keys. Its bytes come from the held message (quarantined
or escalated) or from the delivered copy kept for `store.keep_delivered_days`; their
SHA-256 is checked against the one recorded at the time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.reports.extract import Keys
from quarantine.store.models import HeldMessage, KeptMessage, Trace

# Forwards show the date in the reporter's own clock, often without a zone.
DATE_SLACK = timedelta(hours=36)
MAX_CANDIDATES = 500


@dataclass
class Link:
    source: str                      # held | kept | trace (a trace but no bytes left)
    matched_by: str                  # message-id | sender-date-subject
    trace: Trace
    raw: bytes | None = None
    sha256: str = ""
    held_id: str | None = None
    kept_id: str | None = None
    findings_then: list = field(default_factory=list)

    @property
    def authentic(self) -> bool:
        return self.raw is not None


def _ids(message_id: str) -> list[str]:
    bare = message_id.strip().strip("<>").strip()
    return [f"<{bare}>", bare] if bare else []


def _same_subject(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


async def find_original(session: AsyncSession, keys: Keys, reporter: str,
                        window_days: int) -> Link | None:
    since = datetime.now(UTC) - timedelta(days=window_days)
    seen = (Trace.stage == "data", Trace.verdict != "report", Trace.received_at >= since)
    trace, how = None, ""
    if keys.message_id:
        found = (await session.scalars(
            select(Trace).where(*seen, Trace.message_id.in_(_ids(keys.message_id)))
            .order_by(Trace.received_at.desc()).limit(MAX_CANDIDATES))).all()
        trace, how = _best(list(found), reporter), "message-id"
    if trace is None and (keys.from_address or keys.from_name) and keys.subject:
        when = [Trace.received_at.between(keys.date - DATE_SLACK, keys.date + DATE_SLACK)] \
            if keys.date else []
        who = keys.from_address or keys.from_name
        found = (await session.scalars(
            select(Trace).where(*seen, *when, or_(
                func.lower(Trace.mail_from) == who.lower(),
                Trace.from_header.icontains(who, autoescape=True)))
            .order_by(Trace.received_at.desc()).limit(MAX_CANDIDATES))).all()
        trace = _best([t for t in found if _same_subject(t.subject, keys.subject)], reporter)
        how = "sender-date-subject"
    if trace is None:
        return None
    return await _bytes_of(session, trace, how)


def _best(traces: list[Trace], reporter: str) -> Trace | None:
    reporter = reporter.lower()
    mine = [t for t in traces if reporter in (r.lower() for r in t.rcpt_tos)]
    return (mine or traces or [None])[0]


async def _bytes_of(session: AsyncSession, trace: Trace, how: str) -> Link:
    link = Link("trace", how, trace, findings_then=list(trace.findings or []))
    held = (await session.scalars(
        select(HeldMessage).where(HeldMessage.trace_id == trace.id,
                                  HeldMessage.raw.is_not(None))
        .order_by(HeldMessage.held_at))).first()
    if held is not None and _intact(held.raw, held.sha256):
        link.source, link.raw, link.sha256, link.held_id = "held", held.raw, held.sha256, held.id
        return link
    kept = await session.get(KeptMessage, trace.id)
    if kept is not None and _intact(kept.raw, kept.sha256):
        link.source, link.raw, link.sha256, link.kept_id = "kept", kept.raw, kept.sha256, \
            kept.trace_id
        return link
    link.sha256 = trace.sha256   # what the gateway saw, though its bytes are gone
    return link


def _intact(raw: bytes | None, sha256: str) -> bool:
    return raw is not None and hashlib.sha256(raw).hexdigest() == sha256
