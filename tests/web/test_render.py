"""Safe rendering, Appendix I lookup and the app's own guard, without a store."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from quarantine.web.app import assert_csrf_everywhere, create_app
from quarantine.web.appendix import appendix_i, content_kinds
from quarantine.web.render import looks_forwarded, render, sanitise
from quarantine.web.settings import load_settings
from tests.web.conftest import HOSTILE_HTML, message


def test_sanitiser_keeps_text_and_drops_everything_that_runs_or_fetches():
    safe = sanitise(HOSTILE_HTML + '<img src="data:image/png;base64,iVBORw0KGgo=">')
    assert "Hello from the newsletter." in safe.html
    for bad in ("<script", "onerror", "127.0.0.2", "<iframe", "<form", "<link", "style=",
                "<svg", "href="):
        assert bad not in safe.html
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in safe.html
    assert safe.blocked_remote == 2


def test_render_lists_attachments_with_true_type_and_findings():
    raw = message("a@example.org", ["b@example.org"], "Invoice", "see attached",
                  attachment=("invoice.pdf", "application/pdf", b"MZ\x90\x00" * 64))
    findings = [{"code": "attachment.virus", "severity": "critical", "score": 100,
                 "detail": "invoice.pdf: Eicar", "data": {"filename": "invoice.pdf"}}]
    out = render(raw, findings)
    assert out.text.strip() == "see attached"
    [a] = out.attachments
    assert (a.filename, a.declared_type) == ("invoice.pdf", "application/pdf")
    assert a.true_type != "application/pdf" and a.findings == findings


def test_appendix_i_and_forwards():
    assert appendix_i("gross").sanction == "Dismissal"
    assert appendix_i("serious").rating == "Serious Misconduct/ Misconduct"
    assert appendix_i("mild").term == "Mild and Non-offensive"
    assert appendix_i("").term == "Not classified"
    assert content_kinds([{"code": "content.quoted.gross"}, {"code": "content.unscored"}]) == []
    assert content_kinds([{"code": "content.gross.racist"}, {"code": "auth.spf.fail"}]) == [
        "racist"]
    assert looks_forwarded(None, "Fwd: joke")
    assert not looks_forwarded(message("a@x.org", ["b@x.org"], "Hi", "hello"), "Hi")


def test_a_post_route_without_csrf_stops_the_app_from_starting():
    app = create_app(load_settings({}), store=None)
    router = APIRouter()

    @router.post("/unsafe")
    async def unsafe():
        return "changed"

    app.include_router(router)
    with pytest.raises(RuntimeError, match="/unsafe changes state without a CSRF check"):
        assert_csrf_everywhere(app)


def test_malformed_and_absurdly_nested_messages_are_still_shown():
    deep = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, 3000):
        deep += f"--b{i - 1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n".encode()
    out = render(deep, [])
    assert out.text.startswith("Content-Type: multipart/mixed")
    assert "could not be parsed" in out.problems[0]
    assert not looks_forwarded(deep, "Hello")
    for raw in (b"", b"garbage\x00\xff", b"Content-Type: text/plain; charset=x-nope\r\n\r\nhi\xff"):
        render(raw, [])
