"""One held message: what it is, why it was held, and what reviewers can do with it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from quarantine.store.models import HeldMessage, Trace
from quarantine.web import actions, auth, queries
from quarantine.web.app import page
from quarantine.web.appendix import appendix_i, content_kinds
from quarantine.web.casefacts import prefill
from quarantine.web.render import HTML_CSP, html_body, html_document, render, sanitise
from quarantine.web.render import source_text as raw_source

router = APIRouter()


async def _held(session, held_id: str) -> HeldMessage:
    held = await session.get(HeldMessage, held_id[:32])
    if held is None:
        raise HTTPException(404, "There is no held message with that reference.")
    return held


def _back(held_id: str, notice: str = "", error: str = "") -> RedirectResponse:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in (("notice", notice), ("error", error)) if v})
    return RedirectResponse(f"/messages/{held_id}" + (f"?{query}" if query else ""), 303)


@router.get("/messages/{held_id}")
async def show(request: Request, held_id: str,
               who: auth.ReaderDep):
    async with request.app.state.store.transaction() as session:
        held = await _held(session, held_id)
        await actions.view(session, held, who)
        trace = await session.get(Trace, held.trace_id) if held.trace_id else None
        releases = await queries.releases_of(session, held.id)
        labels = await queries.labels_of(session, held.id)
        cases = await queries.cases_of(session, held.id)
        rcpt_people = await queries.people(session, [held.mail_from, *held.rcpt_tos])
        incidents = await queries.earlier_incidents(session, held)
    rendered = render(held.raw, held.findings) if held.raw is not None else None
    return page(request, "message.html", held=held, trace=trace, rendered=rendered,
                releases=releases, labels=labels, cases=cases, people=rcpt_people,
                incidents=incidents,
                a1=appendix_i(held.severity), kinds=content_kinds(held.findings),
                categories=queries.CATEGORIES, severities=queries.SEVERITIES,
                notice=request.query_params.get("notice", "")[:300],
                error=request.query_params.get("error", "")[:300])


@router.get("/messages/{held_id}/html")
async def show_html(request: Request, held_id: str,
                    who: auth.ReaderDep):
    """The sanitised HTML body, for an <iframe sandbox>, under its own strict CSP."""
    async with request.app.state.store.transaction() as session:
        held = await _held(session, held_id)
        await actions.view(session, held, who, "message.html")
    if held.raw is None:
        raise HTTPException(404, "The body of this message is gone.")
    safe = sanitise(html_body(held.raw))
    response = HTMLResponse(html_document(safe))
    response.headers["Content-Security-Policy"] = HTML_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Aupgate-Blocked-Remote"] = str(safe.blocked_remote)
    return response


@router.get("/messages/{held_id}/source")
async def show_source(request: Request, held_id: str,
                      who: auth.ReaderDep):
    async with request.app.state.store.transaction() as session:
        held = await _held(session, held_id)
        await actions.view(session, held, who, "message.source")
    text, cut = raw_source(held.raw) if held.raw is not None else ("", False)
    return page(request, "source.html", held=held, source=text, cut=cut)


# -- actions -----------------------------------------------------------------------------------

async def _act(request: Request, held_id: str, who: auth.Viewer, work, done: str):
    try:
        async with request.app.state.store.transaction() as session:
            held = await _held(session, held_id)
            result = await work(session, held)
    except actions.ActionError as e:
        return _back(held_id, error=str(e))
    if callable(done):
        done = done(result)
    if isinstance(done, RedirectResponse):
        return done
    return _back(held_id, notice=done)


@router.post("/messages/{held_id}/release")
async def release(request: Request, held_id: str,
                  form: auth.CheckedForm,
                  who: auth.ReaderDep):
    async def work(session, held):
        return await actions.release(session, held, who)
    return await _act(request, held_id, who, work,
                      lambda r: f"Release #{r.id} is on its way to {', '.join(r.rcpt_tos)}.")


@router.post("/messages/{held_id}/release-to")
async def release_to(request: Request, held_id: str,
                     form: auth.CheckedForm,
                     who: auth.ReaderDep):
    async def work(session, held):
        address = actions.valid_address(str(form.get("address") or ""))
        return await actions.release(session, held, who, [address])
    return await _act(request, held_id, who, work,
                      lambda r: f"Release #{r.id} is on its way to {', '.join(r.rcpt_tos)}.")


@router.post("/messages/{held_id}/delete")
async def delete(request: Request, held_id: str,
                 form: auth.CheckedForm,
                 who: auth.ReaderDep):
    async def work(session, held):
        await actions.delete(session, held, who, str(form.get("reason") or ""))
    return await _act(request, held_id, who, work, "The message was deleted; its record and "
                                                   "the audit trail remain.")


@router.post("/messages/{held_id}/label")
async def label(request: Request, held_id: str,
                form: auth.CheckedForm,
                who: auth.ReaderDep):
    async def work(session, held):
        return await actions.label(session, held, who, kind=str(form.get("kind") or ""),
                                   category=str(form.get("category") or ""),
                                   severity=str(form.get("severity") or ""))
    return await _act(request, held_id, who, work,
                      lambda r: {"confirmed": "Category confirmed",
                                 "corrected": "Category corrected",
                                 "false_positive": "Marked as a false positive"}[r.kind]
                      + " and kept as a labelled example for retraining.")


@router.post("/messages/{held_id}/allow-sender")
async def allow_sender(request: Request, held_id: str,
                       form: auth.CheckedForm,
                       who: auth.ReaderDep):
    async def work(session, held):
        return await actions.allow_sender(session, held, who, str(form.get("reason") or ""))
    return await _act(request, held_id, who, work,
                      lambda granted: "Sender allowed" + (": " + "; ".join(granted)
                                                          if granted else "."))


@router.post("/messages/{held_id}/exception")
async def exception(request: Request, held_id: str,
                    form: auth.CheckedForm,
                    who: auth.ReaderDep):
    async def work(session, held):
        return await grant_from_form(session, who, form)
    return await _act(request, held_id, who, work, lambda n: f"{n} exception(s) granted.")


@router.post("/messages/{held_id}/case")
async def open_case(request: Request, held_id: str,
                    form: auth.CheckedForm,
                    who: auth.ReaderDep):
    site = request.app.state.site

    async def work(session, held):
        factors = await prefill(session, held, site.local_domains)
        return await actions.open_case(session, held, who, factors)
    return await _act(request, held_id, who, work,
                      lambda case: RedirectResponse(f"/cases/{case.id}", 303))


async def grant_from_form(session, who, form) -> int:
    """An exception from the grant form (on a held message or on the exceptions page)."""
    return await actions.grant(
        session, who, pupil=str(form.get("pupil") or "").strip(),
        group=str(form.get("group") or "").strip(),
        contacts=str(form.get("contacts") or "").replace(",", " ").split(),
        until=parse_until(str(form.get("until") or "")),
        reason=str(form.get("reason") or ""),
        direction=str(form.get("direction") or "both"))


def parse_until(text: str) -> datetime:
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise actions.ActionError("give the expiry as a date, e.g. 2026-12-20") from None
    if "T" not in text and " " not in text.strip():
        value = value.replace(hour=23, minute=59, second=59)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
