"""Reports of offensive mail by staff: stored, found again, listed per reporter.

The first report of a message carries the message's key (`first_key`: its Message-ID,
else its SHA-256) under a unique index; later reports of it carry `duplicate_of` instead.
So two reports of the same message committed at the same instant, by two gateway
processes or nodes, cannot both be the first: the database refuses the second insert,
and the caller files it again (`file_report` in a new transaction), this time linked.

Every creation is audited here; views and actions are audited by whoever shows or
acts (the web app), with the same `report.*` action names.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store import audit
from quarantine.store.held import new_id
from quarantine.store.models import Report


def message_key(message_id: str, sha256: str) -> str:
    """What makes two reports reports of the same message: its Message-ID when it has
    one (the same message forwarded by two people differs in its bytes), else the hash
    of its bytes. Hashed to a fixed length for the unique index."""
    bare = message_id.strip().strip("<>").strip()
    if bare:
        return "mid:" + hashlib.sha256(bare.encode("utf-8", "surrogateescape")).hexdigest()
    return "sha:" + sha256


async def create_report(session: AsyncSession, *, client: str = "", **fields: Any) -> Report:
    """Store a report (durable when the caller's transaction commits), audited."""
    fields.setdefault("id", new_id())
    fields.setdefault("created_at", datetime.now(UTC))
    report = Report(**fields)
    session.add(report)
    await session.flush()
    await audit.append(session, actor=report.reporter, action="report.create",
                       subject=report.id, client=client,
                       detail={"how": report.how, "source": report.source,
                               "sha256": report.sha256, "trace_id": report.trace_id,
                               "held_id": report.held_id, "status": report.status,
                               "duplicate_of": report.duplicate_of})
    return report


async def by_submission(session: AsyncSession, reporter: str, submission_sha256: str
                        ) -> list[Report]:
    """The reports a retried submission (same bytes, same reporter) already made."""
    return list((await session.scalars(select(Report).where(
        Report.reporter == reporter, Report.submission_sha256 == submission_sha256)
        .order_by(Report.created_at, Report.id))).all())


async def first_report(session: AsyncSession, key: str) -> Report | None:
    """The first report of the message with this key, if it was reported before."""
    return (await session.scalars(select(Report).where(Report.first_key == key))).first()


async def file_report(session: AsyncSession, fields: dict[str, Any], *,
                      report_id: str | None = None, client: str = ""
                      ) -> tuple[Report, Report | None]:
    """Store a checked report: the first of its message, or linked to the first. With
    `report_id`, complete that pending upload instead of creating a report.

    Raises IntegrityError (at this flush, or at the commit) when another transaction
    filed the first report of the same message meanwhile: file it again in a new one."""
    key = message_key(fields.get("message_id", ""), fields["sha256"])
    first = await first_report(session, key)
    if first is not None and first.id == report_id:
        first = None   # another node's report job completed this very upload meanwhile
    fields = {**fields, "duplicate_of": first.id if first is not None else None,
              "first_key": None if first is not None else key}
    if report_id is None:
        report = await create_report(session, client=client, **fields)
    else:
        report = await _complete_upload(session, report_id, fields, client)
    await session.flush()
    return report, first


async def _complete_upload(session: AsyncSession, report_id: str, fields: dict[str, Any],
                           client: str) -> Report:
    report = await session.get(Report, report_id)
    for key in ("reporter", "note", "how", "submission_sha256", "forwarded_raw"):
        fields.pop(key, None)   # as the reporter submitted them
    for key, value in fields.items():
        setattr(report, key, value)
    await audit.append(session, actor="aupgate", action="report.checked", subject=report.id,
                       client=client, detail={"source": report.source, "sha256": report.sha256,
                                              "duplicate_of": report.duplicate_of})
    return report


async def submit_upload(session: AsyncSession, *, reporter: str, data: bytes, note: str,
                        submission_sha256: str, client: str = "") -> Report:
    """A staff upload, waiting for the gateway to link and check it (status "pending")."""
    existing = await by_submission(session, reporter, submission_sha256)
    if existing:
        return existing[0]
    return await create_report(
        session, client=client, reporter=reporter, note=note, how="upload",
        source="forwarded", authentic=False, sha256="", raw=data, forwarded_raw=data,
        submission_sha256=submission_sha256, findings=[], status="pending")


async def pending(session: AsyncSession, limit: int = 20) -> list[Report]:
    return list((await session.scalars(select(Report).where(Report.status == "pending")
                                       .order_by(Report.created_at).limit(limit))).all())


async def reports_by(session: AsyncSession, reporter: str) -> list[Report]:
    return list((await session.scalars(select(Report).where(Report.reporter == reporter)
                                       .order_by(Report.created_at.desc()))).all())
