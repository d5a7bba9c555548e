"""The audit log, newest first, with the chain's verification."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from quarantine.store import audit
from quarantine.store.models import AuditEntry
from quarantine.web import auth
from quarantine.web.app import page

router = APIRouter()
PAGE = 100


@router.get("/audit")
async def audit_log(request: Request, who: auth.ReaderDep):
    params = request.query_params
    action = (params.get("action") or "").strip()[:64]
    actor = (params.get("actor") or "").strip()[:320]
    subject = (params.get("subject") or "").strip()[:320]
    try:
        page_no = max(1, int(params.get("page") or 1))
    except ValueError:
        page_no = 1
    conds = []
    if action:
        conds.append(AuditEntry.action.like(action.replace("%", "") + "%"))
    if actor:
        conds.append(AuditEntry.actor == actor)
    if subject:
        conds.append(AuditEntry.subject == subject)
    async with request.app.state.store.session() as session:
        total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conds))
        rows = list((await session.scalars(
            select(AuditEntry).where(*conds).order_by(AuditEntry.seq.desc())
            .offset((page_no - 1) * PAGE).limit(PAGE))).all())
        check = await audit.verify(session) if params.get("verify") else None
    pages = max(1, -(-total // PAGE))

    def link(**change) -> str:
        values = {"action": action, "actor": actor, "subject": subject, "page": page_no}
        values.update(change)
        return "/audit?" + urlencode({k: v for k, v in values.items() if v})

    return page(request, "audit.html", rows=rows, total=total, page_no=page_no, pages=pages,
                action=action, actor=actor, subject=subject, check=check, link=link)
