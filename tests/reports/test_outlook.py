"""Outlook `.msg` files, uploaded or attached to a report mail, become the message they
hold; a damaged one is refused with a reason (no SMTP needed)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import extract_msg
import olefile
import pytest

from gateway.reports.extract import (
    OLE_MAGIC,
    UnreadableMessage,
    extract_all,
    extract_upload,
    keys_of,
    msg_to_eml,
)
from tests.reports.forwards import as_attachments, dated
from tests.reports.outlook import Outlook, gsf_available, msg_file
from tests.support import STAFF, make_message

if not gsf_available():
    pytest.fail("gsf (libgsf-bin) is not installed: scripts/install-test-deps installs it",
                pytrace=False)


def received() -> bytes:
    msg = dated(make_message("troll@example.org", [STAFF], subject="You are pathetic",
                             body="Nobody at your school can stand you.\n"))
    return msg.as_bytes().replace(b"\n", b"\r\n")


def test_the_msg_files_are_genuine_compound_files():
    data = msg_file(Outlook.of(received()))
    assert data.startswith(OLE_MAGIC)
    ole = olefile.OleFileIO(io.BytesIO(data))
    try:
        assert ole.root.name == "Root Entry" and ole.sector_size == 512
        streams = {"/".join(p) for p in ole.listdir(streams=True, storages=False)}
        assert {"__properties_version1.0", "__substg1.0_0037001F", "__substg1.0_1000001F",
                "__substg1.0_007D001F", "__substg1.0_0C1F001F",
                "__recip_version1.0_#00000000/__properties_version1.0"} <= streams
        assert ole.get_type("__recip_version1.0_#00000000") == olefile.STGTY_STORAGE
        subject = ole.openstream("__substg1.0_0037001F").read().decode("utf-16-le")
        assert subject == "You are pathetic"
    finally:
        ole.close()
    msg = extract_msg.openMsg(io.BytesIO(data))
    try:
        assert type(msg).__name__ == "Message" and msg.classType == "IPM.Note"
        assert msg.subject == "You are pathetic" and msg.sender == "troll@example.org"
        assert msg.to == STAFF and "can stand you" in msg.body
    finally:
        msg.close()


def test_an_uploaded_msg_becomes_the_message_it_holds():
    raw = received()
    original = keys_of(raw)
    found = extract_upload(msg_file(Outlook.of(raw)), "From Outlook")
    keys = keys_of(found.raw)
    assert (found.how, found.note) == ("upload", "From Outlook")
    assert (keys.message_id, keys.subject, keys.from_address, keys.date) == (
        original.message_id, "You are pathetic", "troll@example.org", original.date)
    assert b"Nobody at your school can stand you." in found.raw
    assert b"X-Aupgate-Forwarded-Copy: converted from an Outlook .msg file" in found.raw


def test_without_transport_headers_the_properties_say_who_and_when():
    """Outlook keeps no headers for some messages: sender, date and Message-ID then come
    from the property streams."""
    o = Outlook(subject="Café — naïve", body="Horrible words.\r\n", sender_name="Zoë Brontë",
                sender_address="zoe@example.org", to_name="James Harris", to_address=STAFF,
                message_id="<abc.123@example.org>",
                sent=datetime(2026, 11, 29, 14, 2, tzinfo=UTC))
    keys = keys_of(msg_to_eml(msg_file(o)))
    assert (keys.from_address, keys.from_name) == ("zoe@example.org", "Zoë Brontë")
    assert keys.subject == "Café — naïve" and keys.message_id == "<abc.123@example.org>"
    assert keys.date == datetime(2026, 11, 29, 14, 2, tzinfo=UTC)


def test_a_msg_attached_to_a_report_mail_is_the_reported_message():
    raw = received()
    report = as_attachments(STAFF, [], "Saved from Outlook",
                            files=(("You are pathetic.msg", msg_file(Outlook.of(raw))),))
    [found] = extract_all(report.as_bytes())
    assert (found.how, found.note) == ("attachment", "Saved from Outlook")
    assert keys_of(found.raw).message_id == keys_of(raw).message_id


def damaged() -> dict[str, bytes]:
    good = msg_file(Outlook.of(received()))
    return {"cut short": good[:len(good) // 2], "only its header": good[:600],
            "zeroed after the header": good[:512] + bytes(len(good) - 512),
            "not a compound file": b"Subject: hello\r\n\r\nhi\r\n",
            "an empty file": b""}


@pytest.mark.parametrize("how", list(damaged()))
def test_a_damaged_msg_is_refused_with_its_name(how):
    data = damaged()[how]
    report = as_attachments(STAFF, [], "see attached", files=(("Rude mail.msg", data),))
    with pytest.raises(UnreadableMessage) as refused:
        extract_all(report.as_bytes())
    assert refused.value.name == "Rude mail.msg"
    assert "damaged, cut short, or not an Outlook message" in str(refused.value)
    if data.startswith(OLE_MAGIC):
        with pytest.raises(UnreadableMessage):
            extract_upload(data, "")


def test_a_short_msg_is_never_taken_for_a_file_name(tmp_path, monkeypatch):
    """olefile opens bytes shorter than 1536 as the name of a file: an upload must not be
    able to make the gateway read a file of its own."""
    folder = os.path.join(os.fsencode(tmp_path), OLE_MAGIC)
    os.mkdir(folder)
    with open(os.path.join(folder, b"x.msg"), "wb") as f:
        f.write(msg_file(Outlook.of(received())))
    monkeypatch.chdir(tmp_path)
    named = OLE_MAGIC + b"/x.msg"
    opened = extract_msg.openMsg(named)   # what passing the bytes would do
    assert opened.subject == "You are pathetic"
    opened.close()
    with pytest.raises(UnreadableMessage):
        msg_to_eml(named)
