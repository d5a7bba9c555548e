"""Uploading an Outlook `.msg` in the review app, over HTTP to the running gateway (relay,
review app and report job): it is linked to the copy the gateway delivered, by its
Message-ID, and appears in the reviewers' queue; a damaged one is refused on the page.
The browser test beside this (test_upload_browser) drives the same form with an .eml."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

pytest.importorskip("quarantine.web.app", reason="the web app (issue 6) is not merged yet")

from quarantine.store.models import KeptMessage, Report  # noqa: E402
from tests.reports.forwards import dated  # noqa: E402
from tests.reports.outlook import Outlook, gsf_available, msg_file  # noqa: E402
from tests.support import make_message, wait_until  # noqa: E402
from tests.web.conftest import (  # noqa: E402
    PASSWORD,
    REVIEWER,
    STAFF,
    STAFF_USER,
    store_rows,
)

pytestmark = pytest.mark.slow
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def signed_in(base_url: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = TOKEN.search(client.get("/login").text).group(1)
        r = client.post("/login", data={"csrf_token": token, "username": username,
                                        "password": PASSWORD})
        assert r.status_code == 303, r.text[:500]
        yield client


def upload(client: httpx.Client, name: str, data: bytes, note: str) -> str:
    """Post the form as the page does; the page it leads to, as text."""
    token = TOKEN.search(client.get("/reports/mine").text).group(1)
    r = client.post("/reports/upload", data={"csrf_token": token, "note": note},
                    files={"message": (name, data, "application/vnd.ms-outlook")})
    assert r.status_code == 303, r.text[:500]
    return html.unescape(client.get(r.headers["location"]).text)


def test_an_uploaded_msg_is_linked_to_the_delivered_copy_and_queued(web_env):
    assert gsf_available(), "gsf (libgsf-bin): scripts/install-test-deps installs it"
    original = dated(make_message("troll@example.org", [STAFF], subject="Saved in Outlook",
                                  body="Everyone at your school laughs at you, loser.\n"))
    with web_env.gateway.smtp() as client:
        client.send_message(original)
    saved = web_env.sink.wait_for(1)[0].split(b"\r\n", 1)[1]
    [kept] = wait_until(lambda: store_rows(web_env.store_url, KeptMessage), timeout=15)
    data = msg_file(Outlook.of(saved))

    with signed_in(web_env.base_url, STAFF_USER) as staff:
        # damaged: refused on the page, with what to do; nothing is stored
        page = upload(staff, "Saved in Outlook.msg", data[:len(data) // 2], "cut short")
        assert "That .msg file cannot be read" in page and 'role="alert"' in page
        assert store_rows(web_env.store_url, Report) == []

        page = upload(staff, "Saved in Outlook.msg", data, "Saved from Outlook on Friday.")
        assert "Thank you: your report" in page
    [report] = wait_until(lambda: [r for r in store_rows(web_env.store_url, Report)
                                   if r.status == "new"], timeout=20)
    assert (report.how, report.note, report.subject) == (
        "upload", "Saved from Outlook on Friday.", "Saved in Outlook")
    assert report.message_id == original["Message-ID"]
    assert (report.source, report.kept_id, report.authentic) == ("kept", kept.trace_id, True)
    assert report.raw == kept.raw and report.sha256 == kept.sha256
    assert report.forwarded_raw == data   # what the reporter uploaded, kept as it was

    with signed_in(web_env.base_url, REVIEWER) as reviewer:
        queue = html.unescape(reviewer.get("/reports").text)
    row = re.search(r"<tr class=\"sev-[^\"]*\">(.*?)</tr>", queue, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert STAFF in text and "Saved from Outlook on Friday." in text
    assert "Saved in Outlook" in text and "gateway's copy" in text
