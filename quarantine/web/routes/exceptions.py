"""Exceptions: staff see and grant their own; reviewers and admins see all."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import or_, select

from quarantine.store.models import Allowance
from quarantine.web import actions, auth
from quarantine.web.app import page
from quarantine.web.routes.message import grant_from_form

router = APIRouter()


@router.get("/exceptions")
async def list_exceptions(request: Request, who: auth.AnyUserDep):
    stmt = select(Allowance).where(Allowance.kind == "exception").order_by(
        Allowance.created_at.desc()).limit(500)
    if not who.sees_held_mail:
        stmt = stmt.where(or_(Allowance.granted_by == (who.email or who.username),
                              Allowance.granted_by == who.username))
    async with request.app.state.store.session() as session:
        rows = list((await session.scalars(stmt)).all())
    now = datetime.now(UTC)
    states = {a.id: "revoked" if a.revoked_at else
              "lapsed" if a.expires_at and auth.aware(a.expires_at) <= now else "in force"
              for a in rows}
    return page(request, "exceptions.html", rows=rows, states=states,
                notice=request.query_params.get("notice", "")[:200],
                error=request.query_params.get("error", "")[:300])


@router.post("/exceptions")
async def grant(request: Request, form: auth.CheckedForm,
                who: auth.AnyUserDep):
    from urllib.parse import urlencode

    try:
        async with request.app.state.store.transaction() as session:
            n = await grant_from_form(session, who, form)
    except actions.ActionError as e:
        return RedirectResponse("/exceptions?" + urlencode({"error": str(e)}), 303)
    return RedirectResponse("/exceptions?" + urlencode({"notice": f"{n} exception(s) granted."}),
                            303)
