"""Acknowledged mail is never lost: 250 only after the downstream accepted or the hold
is committed, whatever happens to the downstream or to the gateway itself."""

from __future__ import annotations

import random
import smtplib
import threading
import time

import pytest

from tests.support import STAFF, SinkProcess, free_port, make_message


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


class StallingDownstream:
    """A real SMTP server (aiosmtpd, in a thread of the test process) that holds each
    message until the test lets it go, then accepts it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.let_go = threading.Event()
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        import asyncio

        self.arrived.set()
        await asyncio.to_thread(self.let_go.wait)     # set by the test's thread
        self.accepted.append(envelope.original_content)
        return "250 2.0.0 Ok: queued"


def test_sigterm_while_a_message_is_delivered_answers_it_then_stops(gateway_factory):
    """SIGTERM stops the gateway listening, but a message already being delivered gets
    its answer: the downstream's 250 is passed back, and then the gateway exits by
    itself (not cut off, which would make its sender send it again)."""
    from aiosmtpd.controller import Controller

    downstream = StallingDownstream()
    controller = Controller(downstream, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        gw = gateway_factory(**{"relay.downstream": f"127.0.0.1:{controller.port}"})
        msg = make_message("friend@example.org", [STAFF])
        answer: dict[str, object] = {}

        def send() -> None:     # the message's answer; the session then hears 421
            client = gw.smtp()
            try:
                answer["refused"] = client.send_message(msg)
            except Exception as e:  # noqa: BLE001 - the assertion below reports it
                answer["error"] = e
            finally:
                client.close()

        sender = threading.Thread(target=send)
        sender.start()
        assert downstream.arrived.wait(60), "the message never reached the downstream"
        gw.process.terminate()          # SIGTERM while the gateway awaits the downstream
        time.sleep(1)                   # the gateway has taken the signal meanwhile
        downstream.let_go.set()
        sender.join(60)
        assert answer == {"refused": {}}, answer
        assert gw.process.wait(30) == 0
        [delivered] = downstream.accepted
        assert msg["Message-ID"].encode() in delivered
    finally:
        downstream.let_go.set()
        controller.stop()


def test_sigterm_tells_an_idle_client_421_and_stops(gateway):
    """A client with a session open, between messages, hears that the gateway is shutting
    down (RFC 5321 3.8) instead of losing its connection, and the gateway exits by itself
    rather than waiting for the client to go."""
    client = gateway.smtp()
    try:
        client.ehlo()
        gateway.process.terminate()
        code, reply = client.getreply()
        assert (code, reply[:5]) == (421, b"4.3.2")
    finally:
        client.close()
    assert gateway.process.wait(30) == 0
