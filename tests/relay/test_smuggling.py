"""SMTP smuggling: a bare LF or CR in DATA never lets a second message through."""

from __future__ import annotations

import socket

from tests.support import STAFF


def smtp_dialogue(port: int, data: bytes) -> list[bytes]:
    """Speak SMTP on a raw socket so the bytes are exactly the attacker's."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        replies = [f.readline()]

        def cmd(line: bytes) -> bytes:
            s.sendall(line)
            reply = f.readline()
            while reply[3:4] == b"-":
                reply = f.readline()
            replies.append(reply)
            return reply

        cmd(b"EHLO attacker.example\r\n")
        cmd(b"MAIL FROM:<friend@example.org>\r\n")
        cmd(f"RCPT TO:<{STAFF}>\r\n".encode())
        cmd(b"DATA\r\n")
        cmd(data)
        s.sendall(b"QUIT\r\n")
        return replies


SMUGGLED = (b"Subject: innocent\r\n\r\nhello\r\n"
            b"\n.\n"                                        # a bare-LF "end of data"
            b"MAIL FROM:<ceo@stchristophers.example>\n"
            b"RCPT TO:<" + STAFF.encode() + b">\n"
            b"DATA\n"
            b"Subject: smuggled\n\nsend the payroll to ...\n"
            b"\r\n.\r\n")


def test_bare_lf_smuggling_is_refused_and_nothing_reaches_downstream(gateway, sink):
    replies = smtp_dialogue(gateway.port, SMUGGLED)
    assert replies[-1].startswith(b"550 5.5.2")
    assert sink.messages() == []


def test_bare_cr_is_refused_too(gateway, sink):
    replies = smtp_dialogue(gateway.port, b"Subject: x\r\n\r\nhello\r.\rMAIL FROM:<a@b>\r\r\n.\r\n")
    assert replies[-1].startswith(b"550 5.5.2")
    assert sink.messages() == []


def test_normalise_mode_relays_one_message_with_crlf_only(gateway_factory, sink):
    gw = gateway_factory(**{"server.bare_line_endings": "normalise"})
    replies = smtp_dialogue(gw.port, SMUGGLED)
    assert replies[-1].startswith(b"250 ")
    [got] = sink.wait_for(1)
    body = got.split(b"\r\n", 1)[1]
    assert b"\r\n" in body and b"\n" not in body.replace(b"\r\n", b"")
    # The smuggled "message" is now only text inside the one message, dot-stuffing and all.
    assert len(sink.messages()) == 1
