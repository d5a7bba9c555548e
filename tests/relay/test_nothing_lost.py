"""Acknowledged mail is never lost: 250 only after the downstream accepted or the hold
is committed, whatever happens to the downstream or to the gateway itself."""

from __future__ import annotations

import random
import smtplib
import threading
import time

import pytest

from tests.support import STAFF, SinkProcess, make_message


def test_downstream_down_gives_451_and_the_retry_is_delivered(gateway_factory, tmp_path):
    sink = SinkProcess(tmp_path / "late-downstream")  # not started yet: the port is closed
    gw = gateway_factory(**{"relay.downstream": f"127.0.0.1:{sink.port}",
                            "relay.delivery_timeout": 5})
    msg = make_message("friend@example.org", [STAFF])
    with pytest.raises(smtplib.SMTPDataError) as e:
        with gw.smtp() as client:
            client.send_message(msg)
    assert e.value.smtp_code == 451 and e.value.smtp_error.startswith(b"4.4.1")
    sink.start()
    try:
        with gw.smtp() as client:  # what the sender's MTA does after a 451
            assert client.send_message(msg) == {}
        [got] = sink.wait_for(1)
        assert msg["Message-ID"].encode() in got
    finally:
        sink.stop()


def test_sigkill_during_data_acknowledges_nothing(gateway, sink):
    client = gateway.smtp()
    client.ehlo()
    client.mail("friend@example.org")
    client.rcpt(STAFF)
    client.putcmd("data")
    assert client.getreply()[0] == 354
    client.send(b"Subject: half a message\r\n\r\nfirst line\r\n")
    gateway.kill()
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        client.send(b"second line\r\n.\r\n")
        client.getreply()
    assert sink.messages() == []


def _send_many(port: int, acked: list[str], stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        msg = make_message("friend@example.org", [STAFF], subject=f"burst {n}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                refused = client.send_message(msg)
            if refused == {}:
                acked.append(msg["Message-ID"])
        except (OSError, smtplib.SMTPException):
            if stop.is_set():
                return
            time.sleep(0.01)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_moment_loses_nothing_acknowledged(gateway_factory, sink, seed):
    """Four clients send as fast as they can; the gateway is SIGKILLed at a random moment.
    Every message that got its 250 must be at the downstream server."""
    gw = gateway_factory()
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_send_many, args=(gw.port, acked, stop))
               for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(random.Random(seed).uniform(0.5, 2.0))
    gw.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert acked, "the load should have got some mail through before the kill"
    delivered = b"\n".join(sink.messages())
    lost = [mid for mid in acked if mid.encode() not in delivered]
    assert lost == []
