"""What reviewers do to held mail, as store operations. Each one is audited in the same
transaction as the change, with who, from where, and what."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store import audit
from quarantine.store.directory import grant_exception
from quarantine.store.held import request_release
from quarantine.store.models import Allowance, HeldMessage, Person, Release
from quarantine.store.reviews import Case, Label, SenderAllow
from quarantine.web.appendix import APPENDIX_II_KEYS
from quarantine.web.auth import Viewer
from quarantine.web.queries import CATEGORIES, SEVERITIES
from quarantine.web.render import label_text


class ActionError(ValueError):
    """A request a reviewer can correct; shown back to them."""


def valid_address(text: str) -> str:
    name, addr = parseaddr(text.strip())
    addr = addr.strip().lower()
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or any(c in addr for c in " <>,;\"\r\n"):
        raise ActionError(f"{text!r} is not an email address")
    return addr


async def view(session: AsyncSession, held: HeldMessage, who: Viewer, what: str = "message"
               ) -> None:
    await audit.append(session, actor=who.username, action=f"{what}.view", subject=held.id,
                       client=who.client, detail={"sha256": held.sha256, "role": who.role})


def _must_have_body(held: HeldMessage) -> None:
    if held.raw is None:
        raise ActionError("this message's body was purged or deleted; it cannot be released")


async def release(session: AsyncSession, held: HeldMessage, who: Viewer,
                  rcpt_tos: list[str] | None = None) -> Release:
    """Deliver to the original recipients (default) or to another address, through the
    gateway's release job. Asking twice is one release."""
    _must_have_body(held)
    if rcpt_tos is None:
        if held.kind == "escalation":
            raise ActionError("an escalated message was already delivered to its recipients")
        rcpt_tos = list(held.rcpt_tos)
    return await request_release(session, held, rcpt_tos=rcpt_tos,
                                 requested_by=who.username, client=who.client)


async def delete(session: AsyncSession, held: HeldMessage, who: Viewer, reason: str) -> None:
    """Remove the body (policy 2.1.1); the row, its SHA-256 and the audit trail stay."""
    if held.status == "deleted":
        return
    pending = (await session.scalars(select(Release).where(
        Release.held_id == held.id, Release.status == "pending"))).first()
    if pending is not None:
        raise ActionError("a release of this message is still being delivered")
    held.raw = None
    held.status = "deleted"
    held.purged_at = datetime.now(UTC)
    await audit.append(session, actor=who.username, action="message.delete", subject=held.id,
                       client=who.client, detail={"sha256": held.sha256,
                                                  "reason": reason.strip()[:500]})


async def label(session: AsyncSession, held: HeldMessage, who: Viewer, *, kind: str,
                category: str = "", severity: str = "") -> Label:
    """Confirm or correct the category, or mark a false positive: a labelled example."""
    if kind == "confirmed":
        category, severity = held.category, held.severity
    elif kind == "corrected":
        if category not in CATEGORIES:
            raise ActionError("choose a category")
        if severity not in (*SEVERITIES, ""):
            raise ActionError("choose a severity")
        if category != "content":
            severity = severity if category == "safeguarding" else ""
    elif kind == "false_positive":
        category, severity = "none", ""
    else:
        raise ActionError("unknown label")
    row = Label(held_id=held.id, sha256=held.sha256, kind=kind, category=category,
                severity=severity, previous_category=held.category,
                previous_severity=held.severity, subject=held.subject or "",
                text=label_text(held.raw), labelled_by=who.username,
                labelled_at=datetime.now(UTC))
    session.add(row)
    await session.flush()
    await audit.append(session, actor=who.username, action=f"message.label.{kind}",
                       subject=held.id, client=who.client,
                       detail={"label": row.id, "category": category, "severity": severity,
                               "was": [held.category, held.severity]})
    if kind == "corrected":
        held.category, held.severity = category, severity
    return row


async def allow_sender(session: AsyncSession, held: HeldMessage, who: Viewer, reason: str
                       ) -> list[str]:
    """Allow the sender: a standing approval for each pupil this message concerned (the
    relay honours those now), and a trust-wide sender entry."""
    if not reason.strip():
        raise ActionError("say why the sender is allowed")
    sender = valid_address(held.mail_from)
    now = datetime.now(UTC)
    addresses = [sender, *[a.lower() for a in held.rcpt_tos]]
    known = {p.address: p for p in (await session.scalars(
        select(Person).where(Person.address.in_(addresses)))).all()}
    granted = []
    if known.get(sender) is not None and known[sender].role == "pupil":
        for rcpt in held.rcpt_tos:
            if rcpt.lower() not in known:
                granted.append((sender, rcpt.lower(), "send"))
    else:
        for rcpt in held.rcpt_tos:
            p = known.get(rcpt.lower())
            if p is not None and p.role == "pupil":
                granted.append((p.address, sender, "receive"))
    for subject, contact, direction in granted:
        session.add(Allowance(subject=subject, contact=contact, direction=direction,
                              kind="approved", granted_by=who.username, reason=reason,
                              created_at=now))
    session.add(SenderAllow(address=sender, held_id=held.id, reason=reason,
                            created_by=who.username, created_at=now))
    await audit.append(session, actor=who.username, action="sender.allow", subject=sender,
                       client=who.client,
                       detail={"held_id": held.id, "reason": reason,
                               "approvals": [list(g) for g in granted]})
    return [f"{s} may {d} mail with {c}" for s, c, d in granted]


async def grant(session: AsyncSession, who: Viewer, *, pupil: str, group: str,
                contacts: list[str], until: datetime, reason: str, direction: str) -> int:
    if bool(pupil) == bool(group):
        raise ActionError("name either a pupil or a group")
    subject = valid_address(pupil) if pupil else f"group:{group.strip().lower()}"
    clean = []
    for c in contacts:
        c = c.strip().lower()
        if not c:
            continue
        clean.append(c if c.startswith("@") and "." in c else valid_address(c))
    if not clean:
        raise ActionError("name at least one address or @domain")
    if direction not in ("send", "receive", "both"):
        raise ActionError("choose a direction")
    granted_by = who.email or who.username
    try:
        rows = await grant_exception(session, subject=subject, contacts=clean, expires_at=until,
                                     granted_by=granted_by, reason=reason,
                                     direction=direction, client=who.client)
    except ValueError as e:
        raise ActionError(str(e)) from None
    return len(rows)


async def open_case(session: AsyncSession, held: HeldMessage, who: Viewer,
                    factors: dict[str, str]) -> Case:
    now = datetime.now(UTC)
    case = Case(held_id=held.id, sha256=held.sha256, opened_by=who.username, opened_at=now,
                status="open", person=(held.mail_from or "").lower(), severity=held.severity,
                category=held.category,
                factors={k: factors.get(k, "") for k in APPENDIX_II_KEYS},
                notes="", outcome="", updated_at=now)
    session.add(case)
    await session.flush()
    await audit.append(session, actor=who.username, action="case.open", subject=str(case.id),
                       client=who.client, detail={"held_id": held.id, "sha256": held.sha256})
    return case


async def update_case(session: AsyncSession, case: Case, who: Viewer, *, severity: str,
                      factors: dict[str, str], notes: str, outcome: str, close: bool) -> None:
    if severity not in (*SEVERITIES, ""):
        raise ActionError("choose a severity")
    now = datetime.now(UTC)
    case.severity = severity
    case.factors = {k: factors.get(k, "")[:5000] for k in APPENDIX_II_KEYS}
    case.notes = notes[:20000]
    case.outcome = outcome[:5000]
    case.updated_at = now
    if close and case.status != "closed":
        case.status, case.closed_at = "closed", now
    elif not close and case.status == "closed":
        case.status, case.closed_at = "open", None
    await audit.append(session, actor=who.username, action="case.update", subject=str(case.id),
                       client=who.client, detail={"status": case.status, "severity": severity})
