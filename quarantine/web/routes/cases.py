"""Cases: the Appendix I classification and Appendix II factors, notes and outcome."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from quarantine.store.models import HeldMessage
from quarantine.store.reviews import Case
from quarantine.web import actions, auth, queries
from quarantine.web.app import page
from quarantine.web.appendix import APPENDIX_II, APPENDIX_II_KEYS, appendix_i, content_kinds

router = APIRouter()


async def _case(session, case_id: int) -> Case:
    case = await session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, "There is no case with that number.")
    return case


@router.get("/cases")
async def list_cases(request: Request, who: auth.ReaderDep):
    status = request.query_params.get("status", "open")
    async with request.app.state.store.session() as session:
        stmt = select(Case).order_by(Case.opened_at.desc()).limit(500)
        if status in ("open", "closed"):
            stmt = stmt.where(Case.status == status)
        rows = list((await session.scalars(stmt)).all())
    return page(request, "cases.html", cases=rows, status=status)


async def _show(request: Request, case_id: int, who: auth.Viewer, template: str):
    async with request.app.state.store.transaction() as session:
        case = await _case(session, case_id)
        held = await session.get(HeldMessage, case.held_id) if case.held_id else None
        await actions.audit.append(session, actor=who.username, action="case.view",
                                   subject=str(case.id), client=who.client,
                                   detail={"print": template == "case_print.html"})
    return page(request, template, case=case, held=held, a1=appendix_i(case.severity),
                kinds=content_kinds(held.findings) if held else [], factors=APPENDIX_II,
                severities=queries.SEVERITIES,
                notice=request.query_params.get("notice", "")[:200], now=datetime.now(UTC))


@router.get("/cases/{case_id}")
async def show(request: Request, case_id: int,
               who: auth.ReaderDep):
    return await _show(request, case_id, who, "case.html")


@router.get("/cases/{case_id}/print")
async def printable(request: Request, case_id: int,
                    who: auth.ReaderDep):
    return await _show(request, case_id, who, "case_print.html")


@router.post("/cases/{case_id}")
async def update(request: Request, case_id: int, form: auth.CheckedForm,
                 who: auth.ReaderDep):
    try:
        async with request.app.state.store.transaction() as session:
            case = await _case(session, case_id)
            await actions.update_case(
                session, case, who, severity=str(form.get("severity") or ""),
                factors={k: str(form.get(f"factor_{k}") or "") for k in APPENDIX_II_KEYS},
                notes=str(form.get("notes") or ""), outcome=str(form.get("outcome") or ""),
                close=form.get("close") == "yes")
    except actions.ActionError as e:
        raise HTTPException(400, str(e)) from None
    return RedirectResponse(f"/cases/{case_id}?notice=Saved.", 303)
