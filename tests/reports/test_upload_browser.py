"""The upload page in a real browser: a member of staff uploads a saved message, it is
linked to the copy the gateway delivered and appears in the reviewers' reports queue with
the reporter, note and findings; a reviewer's label is kept for retraining; staff never
see anyone else's report."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("quarantine.web.app", reason="the web app (issue 6) is not merged yet")

from tests.reports.forwards import REPORT, as_attachment, dated  # noqa: E402
from tests.support import make_message, wait_until  # noqa: E402
from tests.web.conftest import (  # noqa: E402
    REVIEWER,
    STAFF,
    STAFF_USER,
    login,
    screenshot,
    store_rows,
)

pytestmark = pytest.mark.slow
OTHER_STAFF = "s.patel@stchristophers.example"


def test_staff_upload_reaches_the_reviewers_queue_and_is_labelled(web_env, new_page,
                                                                   tmp_path):
    from quarantine.store.models import AuditEntry, HeldMessage, KeptMessage, Report
    from quarantine.store.reviews import Label

    # A message the gateway delivered to a member of staff, as their mail program saves it.
    original = dated(make_message("troll@example.org", [STAFF], subject="You will regret it",
                                  body="Everyone at your school laughs at you, loser.\n"))
    with web_env.gateway.smtp() as client:
        client.send_message(original)
    saved = web_env.sink.wait_for(1)[0].split(b"\r\n", 1)[1]
    # delivered (kept) or, if the content policy escalated it, held
    [kept] = wait_until(lambda: store_rows(web_env.store_url, KeptMessage) or [
        h for h in store_rows(web_env.store_url, HeldMessage) if h.subject == "You will regret it"],
        timeout=15)
    eml = tmp_path / "regret.eml"
    eml.write_bytes(saved)

    # Someone else's report, sent to the report address: jharris must never see it.
    with web_env.gateway.smtp("127.0.0.2") as client:
        client.sendmail(OTHER_STAFF, [REPORT], as_attachment(
            OTHER_STAFF, make_message("x@example.org", [OTHER_STAFF], subject="Other").as_bytes(),
            "not yours").as_bytes().replace(b"\n", b"\r\n"))
    [other] = wait_until(lambda: store_rows(web_env.store_url, Report))

    page = login(new_page(), STAFF_USER, next_path="/reports/mine")
    page.goto("/reports/mine")
    page.set_input_files("input[name=message]", str(eml))
    page.fill("textarea[name=note]", "Sent to me on Friday night.")
    page.click("button:has-text('Send report')")
    page.get_by_role("status").wait_for()
    assert "Thank you" in page.inner_text("[role=status]")
    mine = wait_until(lambda: [r for r in store_rows(web_env.store_url, Report)
                               if r.reporter == STAFF and r.status == "new"], timeout=20)
    report = mine[0]
    assert report.how == "upload" and report.note == "Sent to me on Friday night."
    assert report.source in ("kept", "held") and report.authentic
    assert report.sha256 == kept.sha256 and report.raw == kept.raw
    page.reload()
    assert "waiting for review" in page.inner_text("#my-reports")
    assert "Other" not in page.inner_text("#my-reports")
    screenshot(page, "report-upload")

    # an upload over the limit is refused before it is read; one without its token too
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    big = {"name": "big.eml", "mimeType": "message/rfc822",
           "buffer": b"Subject: big\r\n\r\n" + b"x" * (11 * 1024 * 1024)}
    assert page.request.post("/reports/upload", multipart={
        "csrf_token": csrf, "message": big}).status == 413
    small = {"name": "a.eml", "mimeType": "message/rfc822", "buffer": saved}
    assert page.request.post("/reports/upload", multipart={"message": small}).status == 403

    # staff: another's report does not exist for them; the reviewers' queue is not theirs
    assert page.goto(f"/reports/{other.id}").status == 404
    page.goto("/reports")
    assert page.url.endswith("/reports/mine")

    reviewer = login(new_page(), REVIEWER, next_path="/queue")
    reviewer.goto("/queue")   # the quarantine queue says reports are waiting, and links them
    reviewer.locator("#reports-waiting").click()
    reviewer.wait_for_url("**/reports")
    row = reviewer.locator("#reports tr", has_text="You will regret it")
    text = re.sub(r"\s+", " ", row.inner_text())
    assert STAFF in text and "Sent to me on Friday night." in text
    assert "gateway's copy" in text
    screenshot(reviewer, "reports-queue")
    row.get_by_role("link", name="You will regret it").click()
    reviewer.wait_for_load_state()
    assert "Sent to me on Friday night." in reviewer.inner_text("#note")
    assert reviewer.locator("#findings tbody tr").count() >= 1
    assert "laughs at you" in reviewer.inner_text("#body-text")
    reviewer.select_option("select[name=severity]", "serious")
    reviewer.click("button:has-text('Set this severity')")
    reviewer.get_by_role("status").wait_for()
    [label] = [x for x in store_rows(web_env.store_url, Label) if x.sha256 == report.sha256]
    assert (label.kind, label.category, label.severity) == ("corrected", "content", "serious")
    assert "laughs at you" in label.text
    actions = {e.action for e in store_rows(web_env.store_url, AuditEntry)}
    assert {"report.create", "report.checked", "reports.view", "report.view",
            "report.label.corrected"} <= actions
