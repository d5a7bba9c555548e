"""The app factory: settings, store, templates, security headers, error pages, routes.

Adding a screen (e.g. issue 7's staff reports and upload page): write a module in
`quarantine/web/routes/` with an APIRouter named `router` whose routes take
`auth.ReaderDep` / `auth.AnyUserDep` (and `auth.CheckedForm` on every POST), add its
name to ROUTE_MODULES and its entry to NAV with the roles that see it. Staff must only
ever see their own reports: filter by `who.email` on the server.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from quarantine.store import Store
from quarantine.web import auth
from quarantine.web.settings import Site, WebSettings

HERE = Path(__file__).resolve().parent
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")

ROUTE_MODULES = ("login", "queue", "message", "cases", "audit_view", "dashboard", "exceptions",
                 "reports")
# The navigation: (path, label, roles). Issue 7's reports view adds itself here.
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/dashboard", "Dashboard", ("reviewer", "admin")),
    ("/queue", "Quarantine", ("reviewer", "admin")),
    ("/cases", "Cases", ("reviewer", "admin")),
    ("/exceptions", "Exceptions", ("reviewer", "admin", "staff")),
    ("/reports", "Reports", ("reviewer", "admin")),
    ("/reports/mine", "Report mail", ("staff",)),
    ("/audit", "Audit log", ("reviewer", "admin")),
]


class SecurityHeaders:
    """Pure ASGI: strict headers on every response, unless a route set its own CSP."""

    def __init__(self, app, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"

        async def with_headers(message):
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if "content-security-policy" not in h:
                    h["Content-Security-Policy"] = PAGE_CSP
                h.setdefault("X-Frame-Options", "DENY")
                h["X-Content-Type-Options"] = "nosniff"
                h["Referrer-Policy"] = "same-origin"
                h["Cross-Origin-Opener-Policy"] = "same-origin"
                h["Cross-Origin-Resource-Policy"] = "same-origin"
                h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                if not scope["path"].startswith("/static/"):
                    h["Cache-Control"] = "no-store"
                if https:
                    h["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: WebSettings, store: Store, site: Site | None = None) -> FastAPI:
    import importlib

    app = FastAPI(title="aupgate review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.site = site or Site()
    app.state.nav = list(NAV)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["csrf_field"] = auth.CSRF_FIELD
    templates.env.filters["when"] = _when
    templates.env.filters["size"] = _size
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(f"quarantine.web.routes.{name}").router)
    app.add_exception_handler(auth.LoginRequired, _login_required)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_middleware(SecurityHeaders, settings=settings)
    assert_csrf_everywhere(app)
    return app


def _all_routes(routes):
    """Every route, also inside included routers (newer FastAPI includes them lazily)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _all_routes(inner.routes)
        else:
            yield route


def assert_csrf_everywhere(app: FastAPI) -> None:
    """Refuse to build an app with a state-changing route that skips the CSRF check."""
    allowed = {auth.checked_form, auth.checked_login_form}
    checked = 0
    for route in _all_routes(app.routes):
        methods = getattr(route, "methods", None) or set()
        if not methods - {"GET", "HEAD", "OPTIONS"}:
            continue
        dependant = getattr(route, "dependant", None)
        deps = set()
        stack = list(dependant.dependencies) if dependant is not None else []
        while stack:
            d = stack.pop()
            deps.add(d.call)
            stack.extend(d.dependencies)
        if not deps & allowed:
            raise RuntimeError(f"{route.path} changes state without a CSRF check")
        checked += 1
    if not checked:
        raise RuntimeError("found no form routes to check: has FastAPI's routing changed?")


def _when(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    value = auth.aware(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _size(n: int | None) -> str:
    n = n or 0
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = request.app.state
    who = getattr(request.state, "viewer", None)
    nav = [(p, label) for p, label, roles in state.nav if who is not None and who.role in roles]
    return state.templates.TemplateResponse(
        request, name, {"who": who, "nav": nav, "site": state.site, **context},
        status_code=status_code)


async def _login_required(request: Request, exc: Exception):
    if request.method == "GET" and not request.headers.get("hx-request"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    response = HTMLResponse("Sign in again.", status_code=401)
    response.headers["HX-Redirect"] = "/login"
    return response


async def _http_error(request: Request, exc: HTTPException):
    titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed", 429: "Too many tries"}
    return page(request, "error.html", status_code=exc.status_code,
                title=titles.get(exc.status_code, "Something went wrong"),
                message=exc.detail if isinstance(exc.detail, str) else "")


async def _bad_request(request: Request, exc: Exception):
    return page(request, "error.html", status_code=400, title="Bad request",
                message="Something in that request was not understood.")
