"""Finding the reported message in the ways mail clients forward (no SMTP needed)."""

from __future__ import annotations

import pytest

from gateway.reports.extract import TooManyMessages, extract_all, keys_of
from tests.reports.forwards import (
    as_arf,
    as_attachment,
    as_attachments,
    as_inline_gmail,
    as_inline_outlook,
    dated,
)
from tests.support import STAFF, make_message


def original():
    return dated(make_message("friend@example.org", [STAFF], subject="About Friday",
                              body="Some nasty words here.\n"))


def test_attachment_arf_and_inline_forwards_yield_the_message_and_the_note():
    orig = original()
    raw = orig.as_bytes().replace(b"\n", b"\r\n")
    cases = {
        "attachment": as_attachment(STAFF, raw, "Please look at this").as_bytes(),
        "arf": as_arf(STAFF, raw, "Please look at this"),
        "inline": as_inline_outlook(STAFF, orig, "Please look at this").as_bytes(),
    }
    for how, report in cases.items():
        [found] = extract_all(report)
        keys = keys_of(found.raw)
        assert found.how == how
        assert found.note == "Please look at this", how
        assert keys.from_address == "friend@example.org" and keys.subject == "About Friday"
        assert b"Some nasty words here." in found.raw
        assert keys.date is not None
        if how != "inline":
            assert keys.message_id == orig["Message-ID"]
    [gmail] = extract_all(as_inline_gmail(STAFF, orig, "From Gmail").as_bytes())
    assert gmail.how == "inline" and gmail.note == "From Gmail"
    assert keys_of(gmail.raw).subject == "About Friday"


def test_arf_with_headers_only_and_other_clients_markers():
    orig = original()
    [found] = extract_all(as_arf(STAFF, orig.as_bytes().replace(b"\n", b"\r\n"), "hdrs",
                                 True))
    assert found.headers_only and keys_of(found.raw).message_id == orig["Message-ID"]
    apple = ("From: j.harris@stchristophers.example\r\nTo: report@stchristophers.example\r\n"
             "Subject: Fwd: About Friday\r\n\r\nAwful.\r\n\r\nBegin forwarded message:\r\n\r\n"
             "From: Friend <friend@example.org>\r\nSubject: About Friday\r\n"
             "Date: 29 November 2026 at 02:30:00 GMT\r\nTo: James <" + STAFF + ">\r\n\r\n"
             "Some nasty words here.\r\n").encode()
    thunderbird = apple.replace(b"Begin forwarded message:",
                                b"-------- Forwarded Message --------")
    for report in (apple, thunderbird):
        [found] = extract_all(report)
        keys = keys_of(found.raw)
        assert (found.how, found.note) == ("inline", "Awful.")
        assert keys.from_address == "friend@example.org" and keys.date.day == 29


def test_a_report_without_a_message_is_kept_as_it_is():
    report = make_message(STAFF, ["report@stchristophers.example"], body="I got a rude mail")
    [found] = extract_all(report.as_bytes())
    assert found.how == "plain" and found.note == "I got a rude mail"


def test_inline_forward_with_non_ascii_names_and_a_name_only_sender():
    report = ("From: j.harris@stchristophers.example\r\nTo: report@stchristophers.example\r\n"
              "Subject: FW: Café\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n\r\nHorrible.\r\n\r\n"
              "-----Original Message-----\r\nFrom: Zoë Brontë <zoe@example.org>\r\n"
              "Sent: Sunday, 29 November 2026 14:30\r\nTo: James Harris\r\n"
              "Subject: Café — naïve\r\n\r\nSome text\r\n").encode()
    keys = keys_of(extract_all(report)[0].raw)
    assert (keys.from_address, keys.from_name) == ("zoe@example.org", "Zoë Brontë")
    assert keys.subject == "Café — naïve" and (keys.date.hour, keys.date.minute) == (14, 30)
    name_only = report.replace("Zoë Brontë <zoe@example.org>".encode(), "Zoë Brontë".encode())
    keys = keys_of(extract_all(name_only)[0].raw)
    assert (keys.from_address, keys.from_name) == ("", "Zoë Brontë")


def test_each_attached_message_is_its_own_report_with_the_note_shared():
    originals = [dated(make_message("friend@example.org", [STAFF], subject=f"Number {i}",
                                    body=f"Nasty words, part {i}.\n")) for i in (1, 2, 3)]
    # the second carries a message of its own: that one belongs to it, not to the report
    inner = make_message("other@example.org", [STAFF], subject="Inner", body="Inner one\n")
    originals[1].add_attachment(inner.as_bytes(), maintype="application",
                                subtype="octet-stream", filename="earlier.eml")
    raws = [o.as_bytes().replace(b"\n", b"\r\n") for o in originals]
    found = extract_all(as_attachments(STAFF, raws, "All three from the same person")
                        .as_bytes())
    assert [f.how for f in found] == ["attachment"] * 3
    assert {f.note for f in found} == {"All three from the same person"}
    assert [keys_of(f.raw).subject for f in found] == ["Number 1", "Number 2", "Number 3"]
    assert [keys_of(f.raw).message_id for f in found] == [o["Message-ID"] for o in originals]
    assert b"earlier.eml" in found[1].raw

    with pytest.raises(TooManyMessages) as refused:
        extract_all(as_attachments(STAFF, raws, "too many").as_bytes(), limit=2)
    assert (refused.value.count, refused.value.limit) == (3, 2)
