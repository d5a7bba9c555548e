"""The review app in-process (httpx over ASGI) on each store backend: accounts and the
`aupgate user` command, sessions, throttling, headers, CSRF, purges in the audit view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from quarantine.store import open_store
from quarantine.store.held import purge_expired
from quarantine.store.models import Allowance, HeldMessage
from quarantine.web.app import create_app
from quarantine.web.settings import Site, WebConfigError, load_settings
from tests.support import ROOT, run_aupgate, write_config
from tests.web.conftest import PASSWORD, REVIEWER, STAFF_USER, seed

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def app_store(store_url):
    held = await seed(store_url)
    store = await open_store(store_url)
    app = create_app(load_settings({"login_max_failures": 3}), store,
                     Site(retention_days=30, local_domains=("stchristophers.example",)))
    yield app, store, held
    await store.close()


def client(app, ip: str = "192.0.2.10") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                             base_url="http://review.test")


async def sign_in(c: httpx.AsyncClient, username: str, password: str = PASSWORD):
    form = await c.get("/login")
    token = TOKEN.search(form.text).group(1)
    return await c.post("/login", data={"csrf_token": token, "username": username,
                                        "password": password})


async def test_sessions_cookies_and_security_headers(app_store):
    app, _store, held = app_store
    async with client(app) as c:
        assert (await c.get("/queue")).headers["location"].startswith("/login?next=")
        r = await sign_in(c, REVIEWER)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert "aupgate_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Max-Age=43200" in cookie
        page = await c.get(f"/messages/{held['hostile']}")
        assert page.status_code == 200 and "no earlier incidents" in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        body = await c.get(f"/messages/{held['hostile']}/html")
        assert body.headers["content-security-policy"].endswith("sandbox")
        assert "<script" not in body.text and "127.0.0.2" not in body.text
        assert body.headers["x-aupgate-blocked-remote"] == "2"
        # Logout ends the session on the server: the old cookie is worthless.
        old = c.cookies.get("aupgate_session")
        token = TOKEN.search(page.text).group(1)
        out = await c.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303 and "aupgate_session=\"\"" in out.headers["set-cookie"]
    async with client(app) as replay:
        replay.cookies.set("aupgate_session", old)
        assert (await replay.get("/queue")).status_code == 303


async def test_an_idle_session_ends(app_store):
    from sqlalchemy import func, select

    from quarantine.store.reviews import WebSession

    app, store, _held = app_store
    async with client(app) as c:
        await sign_in(c, REVIEWER)
        assert (await c.get("/queue")).status_code == 200
        async with store.transaction() as session:
            await session.execute(update(WebSession).values(
                last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
        assert (await c.get("/queue")).headers["location"] == "/login?next=%2Fqueue"
    async with store.session() as session:
        assert await session.scalar(select(func.count()).select_from(WebSession)) == 0


async def test_login_is_throttled_per_user_name(app_store):
    app, _store, _held = app_store
    async with client(app) as c:
        for _ in range(3):
            assert (await sign_in(c, REVIEWER, "wrong password!")).status_code == 401
        refused = await sign_in(c, REVIEWER)              # even the right password, now
        assert refused.status_code == 429 and "Too many failed attempts" in refused.text
        assert "aupgate_session" not in refused.headers.get("set-cookie", "")
    async with client(app, "192.0.2.99") as other:          # another user is unaffected
        assert (await sign_in(other, STAFF_USER)).status_code == 303


async def test_cross_site_post_is_refused_even_with_the_token(app_store):
    app, _store, held = app_store
    async with client(app) as c:
        await sign_in(c, REVIEWER)
        token = TOKEN.search((await c.get(f"/messages/{held['gross']}")).text).group(1)
        r = await c.post(f"/messages/{held['gross']}/delete",
                         data={"csrf_token": token, "reason": "x"},
                         headers={"origin": "http://evil.example"})
        assert r.status_code == 403
        r = await c.post(f"/messages/{held['gross']}/delete",
                         data={"csrf_token": token, "reason": "duplicate"},
                         headers={"origin": "http://review.test"})
        assert r.status_code == 303
        view = await c.get(f"/messages/{held['gross']}")
        assert "no longer kept (deleted" in view.text


async def test_retention_purge_shows_in_the_audit_view(app_store):
    app, store, held = app_store
    async with store.transaction() as session:
        await session.execute(update(HeldMessage).where(HeldMessage.id == held["virus"])
                              .values(held_at=datetime.now(UTC) - timedelta(days=40)))
    async with store.transaction() as session:
        assert await purge_expired(session, 30) == 1
    async with client(app) as c:
        await sign_in(c, REVIEWER)
        log = await c.get("/audit?action=retention")
        assert "retention.purge" in log.text and held["virus"] in log.text
        view = await c.get(f"/messages/{held['virus']}")
        assert "no longer kept (purged" in view.text
        queue = await c.get("/queue?status=purged")
        assert "Invoice 4471" in queue.text
        assert "Invoice 4471" not in (await c.get("/queue")).text


def test_user_command_and_config_errors(tmp_path, store_url):
    config = write_config(tmp_path / "gateway.toml", {"store.url": store_url})
    ok = run_aupgate("user", "add", "Margaret", "--role", "reviewer", "--email",
                     "head@stchristophers.example", config=config,
                     input=b"a long enough password\n")
    assert ok.returncode == 0 and b"added margaret (reviewer)" in ok.stdout
    short = run_aupgate("user", "add", "bob", "--role", "staff", config=config, input=b"short\n")
    assert short.returncode == 65 and b"at least 10 characters" in short.stderr
    with pytest.raises(WebConfigError, match="web.listen"):
        load_settings({"listen": "nowhere"})
    with pytest.raises(WebConfigError, match="web.colour: unknown key"):
        load_settings({"colour": "blue"})
    # `aupgate web` runs the app alone, and stops cleanly on SIGTERM.
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.support import free_port

    port = free_port()
    alone = write_config(tmp_path / "alone.toml", {"store.url": store_url,
                                                   "web.listen": f"127.0.0.1:{port}"})
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "-c", str(alone), "web"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    assert r.status == 200 and b"Sign in" in r.read()
                    break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
    finally:
        process.terminate()
        assert process.wait(20) == 0
    bad = write_config(tmp_path / "bad.toml", {"store.url": store_url, "web.page_size": 0})
    refused = run_aupgate("web", config=bad)
    assert refused.returncode == 78 and b"web.page_size" in refused.stderr
    assert (ROOT / "quarantine" / "web" / "static" / "htmx.min.js").read_text().startswith(
        "/*! htmx")


async def test_queue_filters_on_both_backends(app_store):
    app, _store, _held = app_store
    today = datetime.now(UTC).date()
    cases = {
        "reason=spoofing": set(),
        "reason=virus": {"Invoice 4471"},
        "reason=content": {"Weekly newsletter", "Fwd: you will laugh at this"},
        "reason=allowlist": {"Holiday photos for Amy"},
        "audience=pupil": {"Holiday photos for Amy"},
        "audience=external&direction=outbound": {"Fwd: you will laugh at this"},
        "severity=mild": {"Weekly newsletter"},
        "severity=none&category=virus": {"Invoice 4471"},
        "q=AMY.LEE": {"Holiday photos for Amy"},
        "q=100%25_off": set(),
        f"since={today}&until={today}": {"Invoice 4471", "Weekly newsletter",
                                         "Fwd: you will laugh at this",
                                         "Holiday photos for Amy"},
        f"until={today - timedelta(days=1)}": set(),
        "status=released": set(),
    }
    async with client(app) as c:
        await sign_in(c, REVIEWER)
        for query, expected in cases.items():
            page = (await c.get(f"/queue?{query}")).text
            shown = {s for s in ("Invoice 4471", "Weekly newsletter", "Holiday photos for Amy",
                                 "Fwd: you will laugh at this") if s in page}
            assert shown == expected, query
            assert f"{len(expected)} message" in page


@pytest.fixture
def certificate(tmp_path):
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


async def test_under_tls_cookies_are_secure(certificate, store_url):
    from quarantine.web.serve import start_web

    cert, key = certificate
    await seed(store_url)
    store = await open_store(store_url)
    server = await start_web({"listen": "127.0.0.1:0", "tls_cert_file": str(cert),
                              "tls_key_file": str(key)}, store)
    try:
        assert server.url.startswith("https://")
        async with httpx.AsyncClient(base_url=server.url, verify=False) as c:
            login_page = await c.get("/login")
            assert "Secure" in login_page.headers["set-cookie"]
            assert login_page.headers["strict-transport-security"] == "max-age=31536000"
            r = await sign_in(c, REVIEWER)
            assert r.status_code == 303
            assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    finally:
        await server.stop()
        await store.close()


async def test_sign_in_never_redirects_off_site(app_store):
    app, _store, _held = app_store
    for target, expected in (("/queue?severity=gross", "/queue?severity=gross"),
                             ("//evil.example/x", "/"), ("/\\evil.example", "/"),
                             ("https://evil.example/", "/")):
        async with client(app) as c:
            form = await c.get("/login", params={"next": target})
            token = TOKEN.search(form.text).group(1)
            nxt = re.search(r'name="next" value="([^"]*)"', form.text).group(1)
            r = await c.post("/login", data={"csrf_token": token, "username": REVIEWER,
                                             "password": PASSWORD, "next": target})
            assert r.headers["location"] == expected, target
            assert nxt.replace("&amp;", "&") == expected


async def test_an_exception_is_granted_from_a_held_message(app_store):
    """The grant form under a held message: a group's time-limited exception is stored and
    listed; an expiry that is not a date is refused with the reason, and nothing stored."""
    app, store, held = app_store
    async with client(app) as c:
        await sign_in(c, REVIEWER)
        page = f"/messages/{held['gross']}"
        token = TOKEN.search((await c.get(page)).text).group(1)
        form = {"csrf_token": token, "group": "year6", "contacts": "zoo@visits.example",
                "direction": "both", "reason": "Zoo trip"}
        r = await c.post(f"{page}/exception", data=form | {"until": "next week"})
        assert r.status_code == 303 and "error=give+the+expiry" in r.headers["location"]
        r = await c.post(f"{page}/exception", data=form | {"until": "2030-12-20"})
        assert r.status_code == 303
        assert "1+exception" in r.headers["location"]
        assert "zoo@visits.example" in (await c.get("/exceptions")).text
    async with store.transaction() as session:
        rows = (await session.execute(select(Allowance).where(
            Allowance.contact == "zoo@visits.example"))).scalars().all()
    assert [(a.subject, a.kind, a.expires_at.date().isoformat()) for a in rows] == [
        ("group:year6", "exception", "2030-12-20")]


async def test_a_case_says_what_held_its_message_scored_or_not(app_store):
    """A message held for quoted text (a finding that scores 0, which the policy holds
    for a pupil) opens a case whose summary names that finding, as the policy said it."""
    from quarantine.store.held import hold
    from tests.web.conftest import finding, message

    app, store, _ = app_store
    raw = message("parent@home.example", ["pupil@stchristophers.example"], "Re: homework",
                  "Thanks!\n\nOn Monday, someone wrote:\n> something vile")
    reason = ("quarantine: offensive quoted text, held for a pupil "
              "(content.quoted.gross)")
    async with store.transaction() as session:
        held = await hold(session, raw=raw, sha256="ab" * 32, message_id="<quoted@test>",
                          direction="inbound", mail_from="parent@home.example",
                          rcpt_tos=["pupil@stchristophers.example"], audiences=["pupil"],
                          subject="Re: homework", from_header="parent@home.example",
                          category="content", severity="gross",
                          findings=[finding("content.quoted.gross", 0, "quoted gross text",
                                            severity="info")],
                          reasons=[reason])
    async with client(app) as c:
        await sign_in(c, REVIEWER)
        page = f"/messages/{held.id}"
        token = TOKEN.search((await c.get(page)).text).group(1)
        r = await c.post(f"{page}/case", data={"csrf_token": token})
        assert r.status_code == 303, r.text
        summary = (await c.get(r.headers["location"])).text
    held_for = summary[summary.index("Held for"):summary.index("SHA-256")]
    assert "content.quoted.gross" in held_for and "offensive quoted text" in held_for
