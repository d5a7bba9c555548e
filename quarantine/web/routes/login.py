"""Signing in and out, and the front page."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from quarantine.store import audit
from quarantine.web import auth
from quarantine.web.accounts import check_password_async, find_user
from quarantine.web.app import page

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path on this site: never `//host`, `/\\host` or anything with a scheme."""
    target = target or "/"
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7f for c in target)):
        return "/"
    return target


@router.get("/")
async def home(who: auth.AnyUserDep):
    return RedirectResponse("/dashboard" if who.sees_held_mail else "/exceptions", 303)


def _login_page(request: Request, error: str = "", status: int = 200, username: str = ""):
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", status_code=status, error=error, login_token=token,
                    username=username, next=_safe_next(request.query_params.get("next", "/")))
    auth.set_cookie(response, request, request.app.state.settings, auth.LOGIN_COOKIE, token,
                    max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
async def login(request: Request, form: auth.LoginForm):
    username = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")
    store = request.app.state.store
    client = auth.client_of(request)
    if await auth.throttled(request, username):
        async with store.transaction() as session:
            await audit.append(session, actor=username or "?", action="login.throttled",
                               client=client)
        return _login_page(request, "Too many failed attempts. Wait a few minutes and try "
                                    "again, or ask the IT manager.", 429, username)
    async with store.session() as session:
        user = await find_user(session, username) if username else None
    ok = await check_password_async(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled_at is not None:
        await auth.record_failure(request, username)
        async with store.transaction() as session:
            await audit.append(session, actor=username or "?", action="login.failed",
                               client=client)
        return _login_page(request, "That user name and password do not match.", 401, username)
    await auth.clear_failures(request, username)
    token = await auth.open_session(request, user)
    async with store.transaction() as session:
        await audit.append(session, actor=user.username, action="login", client=client,
                           detail={"role": user.role})
    target = _safe_next(str(form.get("next") or "/"))
    response = RedirectResponse(target, status_code=303)
    auth.set_cookie(response, request, request.app.state.settings, auth.SESSION_COOKIE, token,
                    max_age=request.app.state.settings.session_max_hours * 3600)
    response.delete_cookie(auth.LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request, _form: auth.CheckedForm,
                 who: auth.ViewerDep):
    await auth.close_session(request)
    async with request.app.state.store.transaction() as session:
        await audit.append(session, actor=who.username, action="logout", client=who.client)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.headers["Clear-Site-Data"] = '"cookies", "storage", "cache"'
    return response
