"""The review app's fixtures: a seeded store, a real gateway process (relay + review app +
release job) delivering to a real downstream, and headless Debian Chromium via Playwright.

Playwright's sync API keeps an event loop running on the test's thread, so store work
during a browser test runs on a worker thread (`run_async`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.support import (
    ROOT,
    GatewayProcess,
    SinkProcess,
    free_port,
    import_directory,
    write_config,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# The README's pictures are refreshed with AUPGATE_UPDATE_SCREENSHOTS=1; an ordinary run
# writes to tests/artifacts (ignored by git), so a test run leaves the tree clean.
SCREENSHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("AUPGATE_UPDATE_SCREENSHOTS")
               else ROOT / "tests" / "artifacts" / "screenshots")
PASSWORD = "a long test password"
REVIEWER, STAFF_USER, ADMIN = "head", "jharris", "itmanager"
PUPIL = "amy.lee@stchristophers.example"
STAFF = "j.harris@stchristophers.example"
HOSTILE_HOST = "127.0.0.2"


def run_async(fn, *args):
    """Run `await fn(*args)` on its own loop in a worker thread (safe beside Playwright)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn(*args))).result(timeout=120)


def store_rows(store_url: str, model, *order_by) -> list:
    """Every row of `model` in the store, read on its own loop (see `run_async`)."""
    from sqlalchemy import select

    from quarantine.store import Store

    async def work():
        store = Store(store_url)
        try:
            async with store.session() as session:
                return list((await session.scalars(select(model).order_by(*order_by))).all())
        finally:
            await store.close()
    return run_async(work)


def message(sender: str, rcpts: list[str], subject: str, text: str = "", html: str = "",
            attachment: tuple[str, str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(rcpts)
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="test.example")
    msg["Date"] = "Sat, 28 Nov 2026 09:00:00 +0000"
    msg.set_content(text or "See the HTML part.")
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment:
        name, ctype, data = attachment
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def finding(code: str, score: float, detail: str, severity: str = "high", **data) -> dict:
    return {"code": code, "severity": severity, "score": score, "detail": detail, "data": data}


HOSTILE_HTML = f"""<html><body>
<h1>Newsletter</h1>
<p id="greeting">Hello from the newsletter.</p>
<script>document.title = "PWNED"; window.parent.postMessage("pwned", "*");
fetch("http://{HOSTILE_HOST}:9/script-fetch"); alert("script ran");</script>
<img src="http://{HOSTILE_HOST}:9/x.png" alt="tracker">
<img src="x" onerror="alert('onerror ran'); new Image().src='http://{HOSTILE_HOST}:9/onerror'">
<div style="background-image:url(http://{HOSTILE_HOST}:9/bg.png)">styled</div>
<link rel="stylesheet" href="http://{HOSTILE_HOST}:9/style.css">
<iframe src="http://{HOSTILE_HOST}:9/frame"></iframe>
<a href="http://{HOSTILE_HOST}:9/click">a link</a>
<svg><image href="http://{HOSTILE_HOST}:9/svg.png"/></svg>
<form action="http://{HOSTILE_HOST}:9/form"><input name="q"></form>
</body></html>"""

SEEDS = {
    "allowlist": dict(
        raw=message("stranger@example.org", [PUPIL], "Holiday photos for Amy",
                    "Hi Amy, here are the photos from the holiday."),
        direction="inbound", mail_from="stranger@example.org", rcpt_tos=[PUPIL],
        audiences=["pupil"], subject="Holiday photos for Amy",
        from_header="stranger@example.org", category="allowlist", severity="",
        findings=[finding("allowlist.unapproved_sender", 10,
                          "stranger@example.org is not an approved contact of pupil "
                          f"{PUPIL}", pupil=PUPIL)],
        reasons=["quarantine: stranger@example.org is not an approved contact (policy 3.2.3)"]),
    "gross": dict(
        raw=message(STAFF, ["friend@elsewhere.example"], "Fwd: you will laugh at this",
                    "---------- Forwarded message ---------\nA joke ridiculing a religion."),
        direction="outbound", mail_from=STAFF, rcpt_tos=["friend@elsewhere.example"],
        audiences=["external"], subject="Fwd: you will laugh at this", from_header=STAFF,
        category="content", severity="gross",
        findings=[finding("content.gross.ridiculing_religion", 9.2,
                          "Appendix I gross: ridiculing religion (p=0.92)",
                          words=["ridiculing", "religion"], part="1")],
        reasons=["quarantine: gross content (Appendix I)"]),
    "hostile": dict(
        raw=message("news@letters.example", [STAFF], "Weekly newsletter",
                    "Hello from the newsletter.", html=HOSTILE_HTML),
        direction="inbound", mail_from="news@letters.example", rcpt_tos=[STAFF],
        audiences=["staff"], subject="Weekly newsletter", from_header="news@letters.example",
        category="content", severity="mild",
        findings=[finding("content.mild.bad_taste", 3.1, "Appendix I mild (p=0.61)",
                          severity="low")],
        reasons=["quarantine: content score 3.1"]),
    "virus": dict(
        raw=message("billing@invoices.example", ["office@stchristophers.example"],
                    "Invoice 4471", "Please see the attached invoice.",
                    attachment=("invoice.pdf", "application/pdf",
                                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" * 8)),
        direction="inbound", mail_from="billing@invoices.example",
        rcpt_tos=["office@stchristophers.example"], audiences=["staff"],
        subject="Invoice 4471", from_header="billing@invoices.example", category="virus",
        severity="",
        findings=[finding("attachment.virus", 100, "invoice.pdf: Win.Test.EICAR_HDB-1",
                          severity="critical", filename="invoice.pdf"),
                  finding("attachment.type_mismatch", 5, "invoice.pdf claims PDF but is a "
                          "Windows executable", filename="invoice.pdf")],
        reasons=["quarantine: a virus was found"]),
}


@dataclass
class WebEnv:
    base_url: str
    store_url: str
    config: Path | None
    sink: SinkProcess | None
    gateway: GatewayProcess | None
    held: dict[str, str] = field(default_factory=dict)     # seed name -> held id
    subjects: dict[str, str] = field(default_factory=dict)


async def traces_for_the_dashboard(session) -> None:
    """A fortnight of traces with a steady mix of verdicts, for the charts."""
    from datetime import UTC, datetime, timedelta

    from quarantine.store.held import record_trace

    now = datetime.now(UTC)
    mix = ("deliver",) * 6 + ("tag", "quarantine", "reject", "escalate")
    for day in range(14):
        for i in range(3 + day % 4 * 2):
            await record_trace(session, received_at=now - timedelta(days=day, minutes=i),
                               stage="data", direction="inbound",
                               mail_from="someone@example.org",
                               rcpt_tos=[STAFF], verdict=mix[(day + i) % len(mix)])


USERS = ((REVIEWER, "reviewer", "head@stchristophers.example"), (STAFF_USER, "staff", STAFF),
         (ADMIN, "admin", "it@stchristophers.example"))


async def seed(store_url: str, users=USERS) -> dict[str, str]:
    """Held messages written by the store's own `hold`, and the app's accounts."""
    from quarantine.store import open_store
    from quarantine.store.held import hold
    from quarantine.web.accounts import add_user as add_account

    store = await open_store(store_url)
    ids = {}
    try:
        async with store.transaction() as session:
            for name, fields in SEEDS.items():
                fields = dict(fields)
                raw = fields.pop("raw")
                held = await hold(session, raw=raw, sha256=hashlib.sha256(raw).hexdigest(),
                                  message_id=f"<{name}@test.example>", **fields)
                ids[name] = held.id
            await traces_for_the_dashboard(session)
            for username, role, email in users:
                await add_account(session, username=username, password=PASSWORD, role=role,
                                  email=email, actor="tests")
    finally:
        await store.close()
    return ids


def wait_http(url: str, process: GatewayProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{process.log()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer:\n{process.log()}")


@pytest.fixture
def web_env(tmp_path, store_url, sink, dns_server) -> WebEnv:
    """`aupgate serve` (relay, review app, release job) over a seeded store."""
    asyncio.run(import_directory(store_url, ROOT / "config" / "directory.sample.csv"))
    held = asyncio.run(seed(store_url))
    web_port, smtp_port = free_port(), free_port()
    config = write_config(tmp_path / "gateway.toml", {
        "server.listen_port": smtp_port,
        "relay.downstream": f"127.0.0.1:{sink.port}",
        "relay.smarthost": f"127.0.0.1:{sink.port}",
        "store.url": store_url,
        "checks.auth.nameservers": [dns_server.address],
        "web.listen": f"127.0.0.1:{web_port}",
    })
    gateway = GatewayProcess(config, smtp_port, tmp_path)
    gateway.start()
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_http(base + "/login", gateway)
    except Exception:
        gateway.stop()
        raise
    yield WebEnv(base_url=base, store_url=store_url, config=config, sink=sink,
                 gateway=gateway, held=held,
                 subjects={k: v["subject"] for k, v in SEEDS.items()})
    gateway.stop()


class LocalWeb:
    """The review app alone (`start_web`) on its own loop in a thread of the test process:
    for browser tests that need no relay, it starts in a fraction of a gateway's time."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        if not self.ready.wait(60) or self.error:
            raise RuntimeError(f"the review app did not start: {self.error!r}")

    async def _main(self) -> None:
        from quarantine.store import open_store
        from quarantine.web.serve import start_web

        try:
            self.loop = asyncio.get_running_loop()
            self.stopping = asyncio.Event()
            store = await open_store(self.store_url)
            server = await start_web({"listen": "127.0.0.1:0"}, store, retention_days=90,
                                     local_domains=["stchristophers.example"])
            self.base_url = server.url
        except BaseException as e:  # noqa: BLE001 - reported to the fixture
            self.error = e
            self.ready.set()
            raise
        self.ready.set()
        await self.stopping.wait()
        await server.stop()
        await store.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(20)


@pytest.fixture
def web_local(store_url) -> WebEnv:
    """A seeded store and the review app alone (no relay, no release job)."""
    asyncio.run(import_directory(store_url, ROOT / "config" / "directory.sample.csv"))
    held = asyncio.run(seed(store_url))
    web = LocalWeb(store_url)
    yield WebEnv(base_url=web.base_url, store_url=store_url, config=None, sink=None,
                 gateway=None, held=held, subjects={k: v["subject"] for k, v in SEEDS.items()})
    web.stop()


@pytest.fixture
def new_page(request):
    """`new_page()`: a page in a fresh browser context (Debian's Chromium, headless), with
    the test's app as base URL. The app's fixture is set up first: see `run_async`."""
    from playwright.sync_api import sync_playwright

    env = request.getfixturevalue("web_env" if "web_env" in request.fixturenames
                                  else "web_local")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True)

        def make():
            context = browser.new_context(viewport={"width": 1200, "height": 760},
                                          base_url=env.base_url, locale="en-GB",
                                          timezone_id="UTC")
            return context.new_page()

        yield make
        browser.close()


def login(page, username: str, password: str = PASSWORD, next_path: str = "/"):
    page.goto(f"/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_load_state()
    return page


def screenshot(page, name: str, selector: str | None = None) -> None:
    """Saved for the README, once per run (from the SQLite run when it is one)."""
    if "[postgresql]" in os.environ.get("PYTEST_CURRENT_TEST", "") and "sqlite" in \
            os.environ.get("AUPGATE_TEST_BACKENDS", "sqlite,postgresql"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    (page.locator(selector) if selector else page).screenshot(path=str(path))
