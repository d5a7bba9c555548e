"""The review app in a real browser, against a real gateway process and downstream."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from sqlalchemy import update

from tests.support import run_aupgate
from tests.web.conftest import (
    HOSTILE_HOST,
    PUPIL,
    REVIEWER,
    STAFF,
    STAFF_USER,
    login,
    run_async,
    screenshot,
    store_rows,
)

pytestmark = pytest.mark.slow


def held_row(store_url: str, held_id: str):
    from quarantine.store import Store
    from quarantine.store.models import HeldMessage

    async def work():
        store = Store(store_url)
        try:
            async with store.session() as session:
                return await session.get(HeldMessage, held_id)
        finally:
            await store.close()
    return run_async(work)


def test_reviewer_filters_opens_releases_and_opens_a_case(web_env, new_page):
    page = login(new_page(), REVIEWER)
    assert "held messages waiting" in page.inner_text("main")
    assert page.locator("svg").count() == 4
    screenshot(page, "dashboard")

    page.goto("/queue")
    for subject in web_env.subjects.values():
        assert page.get_by_role("link", name=subject).count() == 1
    assert "4 waiting for review" in re.sub(r"\s+", " ", page.inner_text("#counts"))
    screenshot(page, "queue")

    # Filter (htmx swaps the results in place and pushes the URL), then search.
    page.select_option("select[name=category]", "allowlist")
    results = page.locator("#results")
    results.get_by_text("1 message match").wait_for()
    assert "category=allowlist" in page.url
    assert "Holiday photos for Amy" in results.inner_text()
    assert "Weekly newsletter" not in results.inner_text()
    page.select_option("select[name=category]", "")
    results.get_by_text("4 messages match").wait_for()
    page.fill("#q", "invoic")
    page.press("#q", "e")           # typing: htmx asks again after a pause
    results.get_by_text("1 message match").wait_for()
    assert "q=invoice" in page.url
    assert "Invoice 4471" in results.inner_text()
    page.goto("/queue?severity=gross")
    assert "you will laugh" in page.inner_text("#results")
    assert "Holiday photos" not in page.inner_text("#results")

    # Open the allowlist hold and release it to its original recipient.
    page.goto("/queue?category=allowlist")
    page.get_by_role("link", name="Holiday photos for Amy").click()
    page.wait_for_url(re.compile(r"/messages/"))
    assert "allowlist.unapproved_sender" in page.inner_text("main")
    assert "Hi Amy, here are the photos" in page.inner_text("#body-text")
    page.click("#release")
    assert "Release #1 is on its way" in page.inner_text(".notice")
    [delivered] = web_env.sink.wait_for(1, timeout=30)
    assert f"-> {PUPIL}".encode() in delivered.split(b"\r\n", 1)[0]
    assert b"Subject: Holiday photos for Amy" in delivered
    assert b"X-Aupgate-Released: 1 by head" in delivered
    deadline = time.monotonic() + 20
    while "delivered" not in page.inner_text(".history") and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    assert "Release #1" in page.inner_text(".history")
    assert "delivered" in page.inner_text(".history")
    # Releasing again is the same release: nothing more arrives.
    page.click("#release")
    assert "Release #1 " in page.inner_text(".notice")
    time.sleep(2.5)
    assert len(web_env.sink.messages()) == 1
    # Allow the sender: the relay now accepts their mail to the pupil.
    page.fill("input[name=reason]", "Amy's aunt")
    page.click("button:has-text('Allow sender')")
    assert f"{PUPIL} may receive mail with stranger@example.org" in page.inner_text(".notice")
    with web_env.gateway.smtp() as smtp:
        smtp.sendmail("stranger@example.org", [PUPIL],
                      b"From: stranger@example.org\r\nTo: " + PUPIL.encode()
                      + b"\r\nSubject: More photos\r\n\r\nHere are more.\r\n")
    assert b"Subject: More photos" in web_env.sink.wait_for(2, timeout=30)[-1]

    # The gross hold: Appendix I, a case with the Appendix II factors filled in.
    page.goto(f"/messages/{web_env.held['gross']}")
    appendix = page.inner_text(".appendix")
    assert "Gross" in appendix and "Gross Misconduct" in appendix and "Dismissal" in appendix
    assert "ridiculing religion" in appendix
    screenshot(page, "message")
    page.click("#open-case")
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    factor = {k: page.input_value(f"textarea[name=factor_{k}]") for k in (
        "recipients", "external_contact", "instigator", "behaviour_change", "seniority",
        "policies")}
    assert "1 external (friend@elsewhere.example)" in factor["recipients"]
    assert factor["external_contact"].startswith("Yes")
    assert "forwarded" in factor["instigator"]
    assert "No earlier incidents" in factor["behaviour_change"]
    assert "James Harris: staff" in factor["seniority"]
    assert "content.gross.ridiculing_religion" in factor["policies"]
    page.fill("textarea[name=factor_realisation]", "Accepted it was wrong when asked.")
    page.fill("textarea[name=notes]", "Met with J. Harris on 28 Nov.")
    page.fill("textarea[name=outcome]", "Final written warning.")
    page.click("button:has-text('Save the case')")
    assert "Saved." in page.inner_text(".notice")
    screenshot(page, "case")
    page.goto(page.url.split("?")[0] + "/print")
    printed = page.inner_text("body")
    assert "Met with J. Harris" in printed and "Final written warning." in printed
    assert "Dismissal" in printed and "Sign out" not in printed
    screenshot(page, "case-print")

    # Labels, allow the sender: each audited.
    page.goto(f"/messages/{web_env.held['hostile']}")
    page.click("button:has-text('Confirm category')")
    assert "labelled example" in page.inner_text(".notice")

    # The reviewer sees the log, and it verifies, in the app and on the command line.
    page.goto("/audit?verify=1")
    assert "The chain is intact" in page.inner_text("#verify-result")
    page.close()
    from quarantine.store.models import AuditEntry

    rows = store_rows(web_env.store_url, AuditEntry, AuditEntry.seq)
    views = [r for r in rows if r.action == "message.view" and r.actor == REVIEWER]
    assert views and all(r.client == "127.0.0.1" for r in views)
    actions = {r.action for r in rows}
    assert {"login", "queue.view", "message.release", "release.delivered", "case.open",
            "case.update", "case.view", "message.label.confirmed"} <= actions
    ok = run_aupgate("audit", "verify", config=web_env.config)
    assert ok.returncode == 0, ok.stderr.decode()

    # Alter one row: `aupgate audit verify` says so.
    from quarantine.store import Store

    async def tamper():
        store = Store(web_env.store_url)
        try:
            async with store.transaction() as session:
                await session.execute(update(AuditEntry).where(AuditEntry.seq == views[0].seq)
                                      .values(client="10.9.9.9"))
        finally:
            await store.close()
    run_async(tamper)
    broken = run_aupgate("audit", "verify", config=web_env.config)
    assert broken.returncode == 1
    assert f"entry {views[0].seq} was altered" in broken.stderr.decode()


def test_staff_are_refused_held_mail(web_local, new_page):
    web_env = web_local
    from quarantine.store import Store
    from quarantine.store.directory import grant_exception

    async def someone_elses_grant():
        from datetime import UTC, datetime, timedelta

        store = Store(web_env.store_url)
        try:
            async with store.transaction() as session:
                await grant_exception(session, subject="group:year5",
                                      contacts=["zoo@visits.example"],
                                      expires_at=datetime.now(UTC) + timedelta(days=3),
                                      granted_by="s.patel@stchristophers.example",
                                      reason="Zoo trip")
        finally:
            await store.close()
    run_async(someone_elses_grant)

    page = login(new_page(), STAFF_USER)
    assert page.url.endswith("/exceptions")
    nav = page.inner_text("header nav")
    assert "Quarantine" not in nav and "Audit" not in nav

    def no_held_mail_in(text: str) -> None:
        for subject in web_env.subjects.values():
            assert subject not in text
        for held_id in web_env.held.values():
            assert held_id not in text

    no_held_mail_in(page.content())
    assert "zoo@visits.example" not in page.content()     # not theirs
    any_id = web_env.held["gross"]
    for path in ("/queue", "/queue?status=all", f"/messages/{any_id}",
                 f"/messages/{any_id}/html", f"/messages/{any_id}/source", "/dashboard",
                 "/cases", "/audit", f"/audit?subject={any_id}"):
        response = page.goto(path)
        assert response.status == 403, path
        no_held_mail_in(page.content())

    # Even with a valid CSRF token, a staff account cannot act on held mail.
    page.goto("/exceptions")
    token = page.input_value("form.logout input[name=csrf_token]")
    response = page.request.post(f"/messages/{any_id}/release", form={"csrf_token": token})
    assert response.status == 403
    assert held_row(web_env.store_url, any_id).status == "held"

    # Staff grant exceptions and see their own.
    page.fill("form.stack input[name=group]", "year6")
    page.fill("form.stack input[name=contacts]", "author@publisher.example")
    page.fill("form.stack input[name=until]", "2030-12-20")
    page.fill("form.stack input[name=reason]", "Author visit")
    page.click("form.stack button[type=submit]")
    assert "1 exception(s) granted" in page.inner_text(".notice")
    table = page.inner_text("table")
    assert "author@publisher.example" in table and STAFF in table
    assert "zoo@visits.example" not in table


def test_a_form_without_its_csrf_token_is_refused(web_local, new_page):
    web_env = web_local
    page = login(new_page(), REVIEWER, next_path="/queue")
    target = web_env.held["gross"]
    # Without a token, and with a wrong one, from the same browser session.
    for form in ({"reason": "tidy up"}, {"reason": "tidy up", "csrf_token": "forged"}):
        response = page.request.post(f"/messages/{target}/delete", form=form)
        assert response.status == 403
    # The real form, with its hidden token removed before it is submitted.
    page.goto(f"/messages/{target}")
    page.fill("form.danger input[name=reason]", "tidy up")
    page.eval_on_selector("form.danger", "f => f.querySelector('[name=csrf_token]').remove()")
    with page.expect_navigation() as nav:
        page.click("form.danger button")
    assert nav.value.status == 403
    assert "did not come from this site" in page.inner_text("main")
    # And the login form too.
    response = page.request.post("/login", form={"username": REVIEWER, "password": "x"})
    assert response.status == 403
    held = held_row(web_env.store_url, target)
    assert held.status == "held" and held.raw is not None


class Listener:
    """Counts every TCP connection to the hostile host's port 9 while the test runs."""

    def __init__(self, host: str, port: int) -> None:
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def test_hostile_html_runs_nothing_and_fetches_nothing(web_local, new_page):
    web_env = web_local
    try:
        listener = Listener(HOSTILE_HOST, 9)
    except OSError:
        listener = None      # no right to bind port 9: the browser's own events still tell
    page = new_page()
    requests, console, dialogs, errors = [], [], [], []
    page.context.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(m.text))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, REVIEWER)
        held_id = web_env.held["hostile"]
        page.goto(f"/messages/{held_id}")
        assert "Hello from the newsletter." in page.inner_text("#body-text")
        with page.expect_response(re.compile(rf"/messages/{held_id}/html$")) as info:
            page.click("details.html-view summary")
        response = info.value
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "img-src data:" in csp and "sandbox" in csp
        frame = page.frame_locator("#html-frame")
        frame.get_by_text("Hello from the newsletter.").wait_for()
        assert frame.locator("img").count() >= 1
        html = page.frames[1].content() if len(page.frames) > 1 else ""
        for bad in ("<script", "onerror", HOSTILE_HOST, "<iframe", "<form", "<link"):
            assert bad not in html
        time.sleep(1.5)
        # Also the HTML route opened on its own, as a top-level page.
        page.goto(f"/messages/{held_id}/html")
        time.sleep(1)
        assert page.title() != "PWNED"
    finally:
        if listener:
            listener.close()
    assert dialogs == []
    assert errors == []
    assert [u for u in requests if HOSTILE_HOST in u] == []
    assert not [m for m in console if "ran" in m or HOSTILE_HOST in m], console
    if listener:
        assert listener.connections == 0
