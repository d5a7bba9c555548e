"""Held, not lost: what the policy quarantines or escalates is committed before 250,
and a scanner that fails is never a pass."""

from __future__ import annotations

import hashlib
import smtplib
from email.message import EmailMessage

import pytest

from tests.attachments.clamd import EICAR
from tests.support import PUPIL_WITH_GRANDAD, STAFF, held_messages, make_message, traces, wait_until


def with_attachment(sender: str, rcpt: str, filename: str, data: bytes) -> EmailMessage:
    msg = make_message(sender, [rcpt], subject="the file you asked for")
    msg.add_attachment(data, maintype="application", subtype="octet-stream",
                       filename=filename)
    return msg


def test_a_virus_is_held_whole_and_the_sender_gets_250(gateway_factory, sink, store_url,
                                                       clamd):
    gw = gateway_factory(**{"checks.attachments.clamd": clamd.address})
    msg = with_attachment("friend@example.org", STAFF, "invoice.pdf", EICAR)
    with gw.smtp() as client:
        assert client.send_message(msg) == {}
    [held] = held_messages(store_url)
    assert held.category == "virus" and held.status == "held"
    assert hashlib.sha256(held.raw).hexdigest() == held.sha256
    assert msg["Message-ID"].encode() in held.raw
    assert any(f["code"] == "attachment.virus" for f in held.findings)
    # Not delivered; the reviewers are told, without the message.
    got = sink.wait_for(1)
    assert all(msg["Message-ID"].encode() not in m for m in got)
    assert all(b"X-Aupgate-Alert: " + held.id.encode() in m for m in got)


def test_clamd_killed_gives_451_and_loses_nothing(gateway_factory, sink, store_url,
                                                  private_clamd):
    gw = gateway_factory(**{"checks.attachments.clamd": private_clamd.address,
                            "checks.attachments.scan_timeout": 5})
    clean = with_attachment("friend@example.org", STAFF, "notes.txt", b"see you at 9\n")
    with gw.smtp() as client:
        assert client.send_message(clean) == {}
    sink.wait_for(1)

    private_clamd.kill()
    msg = with_attachment("friend@example.org", STAFF, "invoice.pdf", EICAR)
    with pytest.raises(smtplib.SMTPDataError) as e:
        with gw.smtp() as client:
            client.send_message(msg)
    assert e.value.smtp_code == 451
    assert held_messages(store_url) == [] and len(sink.messages()) == 1
    delivered_before = len(sink.messages())

    private_clamd.start()  # the sender's MTA retries once the scanner is back
    with gw.smtp() as client:
        assert client.send_message(msg) == {}
    [held] = held_messages(store_url)
    assert held.category == "virus"
    assert not any(msg["Message-ID"].encode() in m for m in sink.messages()[delivered_before:])


def test_staff_name_from_a_personal_address_to_a_pupil_is_held_and_alerted(
        gateway_factory, sink, store_url):
    gw = gateway_factory()
    # An approved contact's address, but the display name of a member of staff: staff
    # must not write to pupils from personal accounts (policy 2.1.1). The safeguarding
    # rule escalates; the impersonation rule holds it for a pupil, which is stronger.
    msg = make_message('"James Harris" <grandad.cole@example.net>', [PUPIL_WITH_GRANDAD],
                       subject="homework")
    with gw.smtp() as client:
        assert client.send_message(msg, from_addr="grandad.cole@example.net",
                                   to_addrs=[PUPIL_WITH_GRANDAD]) == {}
    [alert] = sink.wait_for(1)
    assert b"X-Aupgate-Alert: " in alert
    assert b"head@stchristophers.example" in alert.splitlines()[0]
    assert b"safeguarding.staff_personal_account_to_pupil" in alert.replace(b"=\r\n", b"")
    [held] = held_messages(store_url)
    assert held.kind == "quarantine" and held.category == "safeguarding"
    assert held.rcpt_tos == [PUPIL_WITH_GRANDAD]
    assert wait_until(lambda: any(t.verdict == "held" for t in traces(store_url)))


def test_gross_content_to_a_pupil_is_held_and_the_findings_name_the_kind(
        gateway_factory, sink, store_url):
    from tests.classifiers.test_content_check import RACIST  # one copy of the hateful text

    gw = gateway_factory()
    msg = make_message("grandad.cole@example.net", [PUPIL_WITH_GRANDAD], subject="hi",
                       body=RACIST + "\n")
    with gw.smtp() as client:
        assert client.send_message(msg) == {}
    [held] = held_messages(store_url)
    assert held.rcpt_tos == [PUPIL_WITH_GRANDAD]
    assert held.category == "content" and held.severity == "gross"
    codes = {f["code"] for f in held.findings}
    assert "content.gross.racist" in codes
    # The reviewers were alerted; the pupil got nothing.
    assert all(msg["Message-ID"].encode() not in m for m in sink.wait_for(1))
