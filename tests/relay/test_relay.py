"""The relay end to end: real SMTP clients, a real downstream process, both store backends."""

from __future__ import annotations

import smtplib
import subprocess

import pytest

from tests.support import (
    PUPIL,
    PUPIL_WITH_GRANDAD,
    STAFF,
    TRUSTED_IP,
    held_messages,
    make_message,
    swaks_available,
    traces,
    wait_until,
)


def send(gw, sender, rcpts, msg=None, source_ip="127.0.0.1"):
    msg = msg or make_message(sender, rcpts)
    with gw.smtp(source_ip) as client:
        return client.send_message(msg, from_addr=sender, to_addrs=rcpts)


def test_inbound_mail_for_staff_is_delivered_with_verdict_headers(gateway, sink):
    msg = make_message("friend@example.org", [STAFF], X_Aupgate_Verdict="deliver (forged)")
    assert send(gateway, "friend@example.org", [STAFF], msg) == {}
    [got] = sink.wait_for(1)
    assert f"friend@example.org -> {STAFF}".encode() in got.splitlines()[0]
    assert b"Received: from " in got and b"(aupgate)" in got
    assert b"X-Aupgate-Verdict: deliver\r\n" in got
    assert b"forged" not in got, "an incoming X-Aupgate-* header must be removed"


def test_open_relay_attempts_are_refused(gateway, sink):
    with gateway.smtp() as client:
        client.ehlo()
        client.mail("spammer@example.org")
        code, reply = client.rcpt("victim@elsewhere.example")
    assert (code, reply) == (554, b"5.7.1 <victim@elsewhere.example>: relay access denied")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(gateway, "spammer@example.org", ["victim@stchristophers.example.evil.org"])
    assert sink.messages() == []
    assert wait_until(lambda: any(t.stage == "rcpt" and "relay access denied" in t.smtp_reply
                                  for t in traces(gateway_store(gateway))))


def gateway_store(gw) -> str:
    import tomllib
    return tomllib.loads(gw.config.read_text())["store"]["url"]


def test_outbound_from_the_academy_server_may_go_anywhere(gateway, sink):
    assert send(gateway, STAFF, ["someone@elsewhere.example"], source_ip=TRUSTED_IP) == {}
    sink.wait_for(1)


def test_pupil_to_unapproved_address_is_refused_at_rcpt_with_a_reason(gateway, sink):
    with gateway.smtp(TRUSTED_IP) as client:
        client.ehlo()
        client.mail(PUPIL)
        code, reply = client.rcpt("stranger@example.net")
        assert code == 550
        assert reply.startswith(b"5.7.1 <stranger@example.net>: pupils may only email approved")
        assert b"policy 3.2.3" in reply
        # the same session may still write to school addresses
        assert client.rcpt(STAFF)[0] == 250
    assert sink.messages() == []
    url = gateway_store(gateway)
    refused = wait_until(lambda: [t for t in traces(url) if t.verdict == "refused"])
    assert refused[0].rcpt_tos == ["stranger@example.net"] and "3.2.3" in refused[0].smtp_reply


def test_pupil_to_approved_contact_is_delivered(gateway, sink):
    assert send(gateway, PUPIL_WITH_GRANDAD, ["grandad.cole@example.net"],
                source_ip=TRUSTED_IP) == {}
    sink.wait_for(1)


def test_mail_from_outside_reaches_a_pupil_only_from_approved_senders(gateway, sink):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(gateway, "stranger@example.net", [PUPIL])
    code, reply = refused.value.recipients[PUPIL]
    assert code == 550 and b"approved senders" in reply
    assert send(gateway, "grandad.cole@example.net", [PUPIL_WITH_GRANDAD]) == {}
    assert len(sink.wait_for(1)) == 1


def test_hold_mode_keeps_unapproved_mail_to_pupils_for_review(gateway_factory, sink,
                                                              store_url):
    gw = gateway_factory(**{"allowlist.unapproved_sender_to_pupil": "hold"})
    assert send(gw, "stranger@example.net", [PUPIL, STAFF]) == {}
    [delivered] = sink.wait_for(1)
    assert f"-> {STAFF}".encode() in delivered.splitlines()[0]
    [held] = held_messages(store_url)
    assert held.rcpt_tos == [PUPIL] and held.category == "allowlist"
    assert held.raw and held.status == "held"


def test_too_many_recipients(gateway_factory):
    gw = gateway_factory(**{"server.max_recipients": 2})
    with gw.smtp() as client:
        client.ehlo()
        client.mail("a@example.org")
        assert client.rcpt(STAFF)[0] == 250
        assert client.rcpt("s.patel@stchristophers.example")[0] == 250
        code, reply = client.rcpt("office@stchristophers.example")
    assert code == 452 and reply.startswith(b"4.5.3")


def test_oversized_message_is_refused_with_552(gateway_factory, sink):
    gw = gateway_factory(**{"server.max_message_bytes": 20_000})
    msg = make_message("friend@example.org", [STAFF], body="x" * 70 + "\n" * 1 + ("y" * 70 + "\n") * 400)
    with pytest.raises(smtplib.SMTPDataError) as e:
        with gw.smtp() as client:
            client.ehlo()
            client.esmtp_features.pop("size", None)  # don't let SIZE= refuse it early
            client.send_message(msg)
    assert e.value.smtp_code == 552 and e.value.smtp_error.startswith(b"5.3.4")
    assert sink.messages() == []


def test_size_declared_in_mail_from_is_refused_early(gateway_factory):
    gw = gateway_factory(**{"server.max_message_bytes": 20_000})
    with gw.smtp() as client:
        client.ehlo()
        code, reply = client.mail("a@example.org", ["SIZE=50000"])
    assert code == 552 and reply.startswith(b"5.3.4")


def test_downstream_5xx_is_passed_back(gateway_factory, tmp_path):
    from tests.support import SinkProcess

    refusing = SinkProcess(tmp_path / "refusing", fail=554)
    refusing.start()
    try:
        gw = gateway_factory(**{"relay.downstream": f"127.0.0.1:{refusing.port}"})
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(gw, "friend@example.org", [STAFF])
        assert e.value.smtp_code == 554
    finally:
        refusing.stop()


def test_malformed_mime_gets_an_answer_and_a_trace(gateway, sink, shared):
    raw = (b"From: a@example.org\r\nTo: " + STAFF.encode() + b"\r\nSubject: broken\r\n"
           b"Content-Type: multipart/mixed; boundary=\"nope\r\n\r\n--nope\r\n"
           b"Content-Type: text/plain; charset=no-such-charset\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n")
    with gateway.smtp() as client:
        client.sendmail("a@example.org", [STAFF], raw)
    sink.wait_for(1)
    url = gateway_store(gateway)
    [trace] = wait_until(lambda: [t for t in traces(url) if t.stage == "data"])
    assert trace.verdict in ("deliver", "tag") and trace.size == len(raw)
    assert any(f["code"] == "mime.defects" for f in trace.findings)


@pytest.mark.skipif(not swaks_available(), reason="swaks is installed by the test command")
def test_swaks_as_a_client(gateway, sink):
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{gateway.port}", "--from", "friend@example.org",
         "--to", STAFF, "--header", "Subject: sent with swaks"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
    assert "250 2.0.0 Ok" in result.stdout
    [got] = sink.wait_for(1)
    assert b"Subject: sent with swaks" in got


def test_delivered_mail_is_kept_for_reports_with_its_hash(gateway, sink, store_url):
    import hashlib

    from sqlalchemy import select

    from quarantine.store.models import KeptMessage
    from tests.support import in_store

    msg = make_message("friend@example.org", [STAFF])
    send(gateway, "friend@example.org", [STAFF], msg)
    sink.wait_for(1)

    async def kept(session):
        return list((await session.scalars(select(KeptMessage))).all())
    [row] = wait_until(lambda: in_store(store_url, kept))
    assert hashlib.sha256(row.raw).hexdigest() == row.sha256
    assert msg["Message-ID"].encode() in row.raw
