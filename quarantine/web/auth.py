"""Sessions, CSRF tokens, login throttling, and the authorisation every route goes through.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure under TLS);
the store keeps only its SHA-256, with the user, an idle and an absolute expiry and the
session's CSRF token. Every form carries that token and every POST is checked against it
(`checked_form`); `app.assert_csrf_everywhere` refuses to start an app with a POST
route that skips the check. Roles are checked on the server for every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlalchemy import delete, func, or_, select
from starlette.datastructures import FormData

from quarantine.store.reviews import LoginFailure, WebSession, WebUser
from quarantine.web.settings import WebSettings

SESSION_COOKIE = "aupgate_session"
LOGIN_COOKIE = "aupgate_login"        # the login form's own CSRF token (double submit)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
HELD_MAIL_ROLES = ("reviewer", "admin")


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the store keeps is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request."""

    user_id: int
    username: str
    role: str
    email: str
    csrf: str
    client: str

    @property
    def sees_held_mail(self) -> bool:
        return self.role in HELD_MAIL_ROLES


class LoginRequired(Exception):
    """Raised by `viewer` for a request without a live session; answered with a redirect."""


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_secure(request: Request, settings: WebSettings) -> bool:
    return settings.secure_cookies == "always" or settings.tls or is_https(request)


def set_cookie(response, request: Request, settings: WebSettings, name: str, value: str,
               max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=cookie_secure(request, settings))


# -- sessions ------------------------------------------------------------------------------

async def open_session(request: Request, user: WebUser) -> str:
    state = request.app.state
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    async with state.store.transaction() as session:
        session.add(WebSession(
            token_hash=token_hash(token), user_id=user.id, csrf=secrets.token_urlsafe(32),
            client=client_of(request), created_at=now, last_seen_at=now,
            expires_at=now + timedelta(hours=state.settings.session_max_hours)))
        await session.execute(delete(WebSession).where(WebSession.expires_at < now))
        db_user = await session.get(WebUser, user.id)
        db_user.last_login_at = now
    return token


async def close_session(request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with request.app.state.store.transaction() as session:
            await session.execute(delete(WebSession).where(
                WebSession.token_hash == token_hash(token)))


async def viewer(request: Request) -> Viewer:
    """The signed-in user, or LoginRequired. Idle and absolute expiry are enforced here."""
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    state = request.app.state
    now = datetime.now(UTC)
    idle = timedelta(minutes=state.settings.session_idle_minutes)
    async with state.store.transaction() as session:
        row = (await session.execute(
            select(WebSession, WebUser).join(WebUser, WebUser.id == WebSession.user_id)
            .where(WebSession.token_hash == token_hash(token)))).first()
        if row is None:
            raise LoginRequired()
        ws, user = row
        ended = (user.disabled_at is not None or aware(ws.expires_at) <= now
                 or aware(ws.last_seen_at) + idle <= now)
        if ended:
            await session.delete(ws)            # committed when the block ends
        elif now - aware(ws.last_seen_at) > timedelta(seconds=30):
            ws.last_seen_at = now
    if ended:
        raise LoginRequired()
    result = Viewer(user_id=user.id, username=user.username, role=user.role,
                    email=user.email, csrf=ws.csrf, client=client_of(request))
    request.state.viewer = result
    return result


ViewerDep = Annotated[Viewer, Depends(viewer)]


def require(*roles: str):
    """A dependency: the viewer, if their role is one of `roles`; otherwise 403."""
    async def dependency(who: ViewerDep) -> Viewer:
        if who.role not in roles:
            raise HTTPException(403, "Your account cannot see this page.")
        return who
    dependency.roles = roles
    return dependency


held_mail_reader = require(*HELD_MAIL_ROLES)
any_user = require("reviewer", "admin", "staff")
ReaderDep = Annotated[Viewer, Depends(held_mail_reader)]
AnyUserDep = Annotated[Viewer, Depends(any_user)]


# -- CSRF ----------------------------------------------------------------------------------

def same_origin(request: Request) -> bool:
    """A browser's Origin (or Referer) must name this site when it is sent at all."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True          # not a browser, or one that sends neither; the token decides
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.netloc.lower() == (request.headers.get("host") or "").lower()


async def checked_form(request: Request, who: ViewerDep) -> FormData:
    """The posted form, after its CSRF token matched the session's (else 403)."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    if not same_origin(request) or not sent or not hmac.compare_digest(sent, who.csrf):
        raise HTTPException(403, "This form has expired or did not come from this site. "
                                 "Go back, reload the page and try again.")
    return form


async def checked_login_form(request: Request) -> FormData:
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or "")
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if (not same_origin(request) or not sent or not cookie
            or not hmac.compare_digest(sent, cookie)):
        raise HTTPException(403, "The sign-in form has expired. Reload the page and try again.")
    return form


# -- throttling ------------------------------------------------------------------------------

async def throttled(request: Request, username: str) -> bool:
    """Too many recent failures for this user name or from this client?"""
    state = request.app.state
    s = state.settings
    since = datetime.now(UTC) - timedelta(minutes=s.login_window_minutes)
    async with state.store.session() as session:
        by_name = await session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.username == username, LoginFailure.at > since))
        by_client = await session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.client == client_of(request), LoginFailure.at > since))
    return by_name >= s.login_max_failures or by_client >= s.login_max_failures_per_client


async def record_failure(request: Request, username: str) -> None:
    state = request.app.state
    now = datetime.now(UTC)
    old = now - timedelta(days=1)
    async with state.store.transaction() as session:
        session.add(LoginFailure(username=username[:64], client=client_of(request), at=now))
        await session.execute(delete(LoginFailure).where(LoginFailure.at < old))


async def clear_failures(request: Request, username: str) -> None:
    async with request.app.state.store.transaction() as session:
        await session.execute(delete(LoginFailure).where(or_(
            LoginFailure.username == username)))


CheckedForm = Annotated[FormData, Depends(checked_form)]
LoginForm = Annotated[FormData, Depends(checked_login_form)]
