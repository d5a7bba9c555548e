"""Reports of offensive mail by staff: stored, found again, listed per reporter.

Every creation is audited here; views and actions are audited by whoever shows or
acts (the web app), with the same `report.*` action names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store import audit
from quarantine.store.held import new_id
from quarantine.store.models import Report


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


async def first_report_of(session: AsyncSession, *, sha256: str, message_id: str,
                          trace_id: str | None, exclude: str | None = None) -> Report | None:
    """The earliest report of the same message: same original, same hash or Message-ID."""
    same = [Report.sha256 == sha256]
    if message_id:
        same.append(Report.message_id == message_id)
    if trace_id:
        same.append(Report.trace_id == trace_id)
    stmt = (select(Report).where(or_(*same), Report.duplicate_of.is_(None),
                                 Report.status != "pending")
            .order_by(Report.created_at).limit(1))
    if exclude:
        stmt = stmt.where(Report.id != exclude)
    return (await session.scalars(stmt)).first()


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
