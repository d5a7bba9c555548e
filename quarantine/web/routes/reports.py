"""Staff reports of offensive mail (policy 2.1.3): the upload page, each reporter's own
reports, and the reviewers' reports queue with the reporter, note and findings.

Staff see only the reports they made (anyone else's answers 404, as if it did not
exist); reviewers and admins see all. An upload is size-bounded before its body is
read, CSRF-checked like every form, and stored as a `pending` report: the gateway's
report job links it to the gateway's own copy, runs the checks and alerts the reviewers
(the web app does not import the gateway). Every view and action is audited.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from quarantine.store import audit
from quarantine.store.models import Report
from quarantine.store.reports import reports_by, submit_upload
from quarantine.store.reviews import Label
from quarantine.web import auth
from quarantine.web.app import page
from quarantine.web.render import label_text, render

router = APIRouter()

MAX_UPLOAD_BYTES = 10 * 1024 * 1024     # [reports] max_upload_bytes sets app.state's value
FORM_OVERHEAD = 64 * 1024               # the note, the token and multipart framing
SEVERITIES = ("gross", "serious", "mild")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def max_upload(request: Request) -> int:
    return getattr(request.app.state, "report_max_upload", MAX_UPLOAD_BYTES)


async def bounded(request: Request) -> None:
    """Refuse an upload that says it is too big, or will not say, before reading it."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise HTTPException(411, "Send the file with its length.")
    if int(length) > max_upload(request) + FORM_OVERHEAD:
        raise HTTPException(413, f"That file is too big: the limit is "
                                 f"{max_upload(request) // (1024 * 1024)} MB.")


Bounded = Annotated[None, Depends(bounded)]


def _mine(who: auth.Viewer) -> str:
    return (who.email or who.username).lower()


async def _report(session, report_id: str, who: auth.Viewer) -> Report:
    report = await session.get(Report, report_id[:32])
    if report is None or (not who.sees_held_mail and report.reporter != _mine(who)):
        raise HTTPException(404, "There is no report with that reference.")
    return report


def _to(path: str, notice: str = "", error: str = "") -> RedirectResponse:
    query = urlencode({k: v for k, v in (("notice", notice), ("error", error)) if v})
    return RedirectResponse(path + (f"?{query}" if query else ""), 303)


@router.get("/reports")
async def queue(request: Request, who: auth.AnyUserDep):
    if not who.sees_held_mail:
        return RedirectResponse("/reports/mine", 303)
    status = request.query_params.get("status", "open")
    stmt = select(Report).order_by(Report.created_at.desc()).limit(500)
    if status == "open":
        stmt = stmt.where(Report.status.in_(("new", "pending")))
    async with request.app.state.store.transaction() as session:
        rows = list((await session.scalars(stmt)).all())
        await audit.append(session, actor=who.username, action="reports.view",
                           client=who.client, detail={"status": status, "shown": len(rows)})
    return page(request, "reports.html", rows=rows, status=status, summary=_summary)


@router.get("/reports/waiting")
async def waiting(request: Request, who: auth.ReaderDep):
    """A line for the quarantine queue: how many staff reports wait for a reviewer."""
    from sqlalchemy import func

    async with request.app.state.store.session() as session:
        n = await session.scalar(select(func.count()).select_from(Report).where(
            Report.status.in_(("new", "pending"))))
    return HTMLResponse(f'<a href="/reports" id="reports-waiting"><strong>{int(n)}</strong> '
                        f'staff report{"" if n == 1 else "s"} waiting</a>' if n else "")


@router.get("/reports/mine")
async def mine(request: Request, who: auth.AnyUserDep):
    async with request.app.state.store.transaction() as session:
        rows = await reports_by(session, _mine(who))
        await audit.append(session, actor=who.username, action="reports.mine.view",
                           client=who.client, detail={"shown": len(rows)})
    return page(request, "reports_mine.html", rows=rows,
                limit_mb=max_upload(request) // (1024 * 1024),
                notice=request.query_params.get("notice", "")[:300],
                error=request.query_params.get("error", "")[:300])


@router.post("/reports/upload")
async def upload(request: Request, _size: Bounded, form: auth.CheckedForm,
                 who: auth.AnyUserDep):
    file = form.get("message")
    note = str(form.get("note") or "").strip()[:5000]
    if file is None or isinstance(file, str) or not file.filename:
        return _to("/reports/mine", error="Choose the .eml or .msg file you saved.")
    data = await file.read(max_upload(request) + 1)
    if len(data) > max_upload(request):
        return _to("/reports/mine", error="That file is too big.")
    name = file.filename.lower()
    if not (name.endswith((".eml", ".msg")) and _looks_like_mail(data)):
        return _to("/reports/mine", error="That is not an .eml or .msg file saved from a "
                                          "mail program.")
    if data.startswith(OLE_MAGIC) and not await run_in_threadpool(outlook_readable, data):
        return _to("/reports/mine", error="That .msg file cannot be read: it is damaged, "
                                          "cut short, or not an Outlook message. Save the "
                                          "message from Outlook again (or as .eml), or "
                                          "forward it to the report address.")
    if not who.email:
        return _to("/reports/mine", error="Your account has no email address; ask the IT "
                                          "manager to add it.")
    async with request.app.state.store.transaction() as session:
        report = await submit_upload(session, reporter=_mine(who), data=data, note=note,
                                     submission_sha256=hashlib.sha256(data).hexdigest(),
                                     client=who.client)
    return _to("/reports/mine", notice=f"Thank you: your report {report.id[:8]} was sent to "
                                       f"the headteacher and the DSL.")


def outlook_readable(data: bytes) -> bool:
    """Whether extract-msg, which the gateway's report job converts it with, reads this
    .msg as a mail message: a damaged file is refused here, where the reporter is told,
    not later in the job."""
    import extract_msg

    try:
        # a file object: olefile would take bytes shorter than 1536 for a file name
        msg = extract_msg.openMsg(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - anything a damaged file makes it raise
        return False
    try:
        msg.header, msg.subject, msg.body   # noqa: B018 - reading them is the check
        return True
    except Exception:  # noqa: BLE001 - a contact or task saved as .msg, broken streams
        return False
    finally:
        msg.close()


def _looks_like_mail(data: bytes) -> bool:
    if data.startswith(OLE_MAGIC):
        return True
    head = data[:8192].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].lower()
    return any(head.startswith(h) or b"\n" + h in head
               for h in (b"from:", b"subject:", b"message-id:", b"received:", b"date:"))


@router.get("/reports/{report_id}")
async def show(request: Request, report_id: str, who: auth.AnyUserDep):
    async with request.app.state.store.transaction() as session:
        report = await _report(session, report_id, who)
        first = await session.get(Report, report.duplicate_of) if report.duplicate_of else None
        labels = list((await session.scalars(select(Label).where(
            Label.sha256 == report.sha256, Label.sha256 != "")
            .order_by(Label.labelled_at))).all()) if who.sees_held_mail else []
        await audit.append(session, actor=who.username, action="report.view",
                           subject=report.id, client=who.client)
    rendered = render(report.raw, report.findings or []) if who.sees_held_mail else None
    return page(request, "report.html", report=report, first=first, labels=labels,
                rendered=rendered, severities=SEVERITIES, summary=_summary,
                notice=request.query_params.get("notice", "")[:300],
                error=request.query_params.get("error", "")[:300])


@router.post("/reports/{report_id}/label")
async def label(request: Request, report_id: str, form: auth.CheckedForm,
                who: auth.ReaderDep):
    """Confirm the severity, correct it, or say the message is not offensive: a labelled
    example for `aupgate model retrain`. The report is then reviewed."""
    kind = str(form.get("kind") or "")
    severity = str(form.get("severity") or "")
    async with request.app.state.store.transaction() as session:
        report = await _report(session, report_id, who)
        if kind == "confirmed":
            severity = report.severity
            if not severity:
                return _to(f"/reports/{report.id}", error="There is no severity to confirm: "
                                                          "choose one instead.")
        elif kind == "corrected":
            if severity not in SEVERITIES:
                return _to(f"/reports/{report.id}", error="Choose a severity.")
        elif kind != "false_positive":
            raise HTTPException(400, "Unknown label.")
        category = "none" if kind == "false_positive" else "content"
        row = Label(held_id=report.held_id, sha256=report.sha256, kind=kind, category=category,
                    severity="" if kind == "false_positive" else severity,
                    previous_category=report.category, previous_severity=report.severity,
                    subject=report.subject or "", text=label_text(report.raw),
                    labelled_by=who.username, labelled_at=datetime.now(UTC))
        session.add(row)
        await session.flush()
        previous = (report.category, report.severity)
        report.status = "reviewed"
        if kind != "confirmed":
            report.category, report.severity = category, row.severity
        await audit.append(session, actor=who.username, action=f"report.label.{kind}",
                           subject=report.id, client=who.client,
                           detail={"label": row.id, "severity": row.severity,
                                   "was": list(previous)})
    return _to(f"/reports/{report.id}", notice="Thank you: kept as a labelled example for "
                                               "retraining.")


def _summary(findings: list[dict] | None) -> str:
    shown = [f["code"] for f in (findings or []) if str(f.get("code", "")).startswith(
        ("content.", "safeguarding.", "attachment.", "impersonation."))]
    return ", ".join(shown[:4]) or "no findings"
