"""Hostile peers: connection limits, STARTTLS, line length, and configuration mistakes."""

from __future__ import annotations

import smtplib
import socket
import ssl
import subprocess

from tests.support import STAFF, free_port, make_message, run_aupgate, write_config


def test_connections_per_client_are_bounded(gateway_factory):
    gw = gateway_factory(**{"server.max_sessions_per_client": 2})
    held = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(2)]
    try:
        for s in held:
            assert s.recv(512).startswith(b"220 ")
        with socket.create_connection(("127.0.0.1", gw.port)) as third:
            assert third.recv(512).startswith(b"421 4.7.0")
        # another address is still welcome
        with socket.create_connection(("127.0.0.1", gw.port),
                                      source_address=("127.0.0.3", 0)) as other:
            assert other.recv(512).startswith(b"220 ")
    finally:
        for s in held:
            s.close()


def test_connections_in_total_are_bounded(gateway_factory):
    gw = gateway_factory(**{"server.max_sessions": 3})
    held = [socket.create_connection(("127.0.0.1", gw.port), source_address=(f"127.0.0.{i}", 0))
            for i in (3, 4, 5)]
    try:
        for s in held:
            assert s.recv(512).startswith(b"220 ")
        with socket.create_connection(("127.0.0.1", gw.port),
                                      source_address=("127.0.0.6", 0)) as fourth:
            assert fourth.recv(512).startswith(b"421 4.7.0 Too many connections;")
    finally:
        for s in held:
            s.close()


def test_overlong_line_is_refused(gateway, sink):
    raw = b"Subject: long\r\n\r\n" + b"a" * 5000 + b"\r\n"
    with gateway.smtp() as client:
        client.ehlo()
        client.mail("friend@example.org")
        client.rcpt(STAFF)
        code, reply = client.data(raw)
    assert code == 500 and reply.startswith(b"5.5.2")
    assert sink.messages() == []


def test_starttls_is_offered_when_a_certificate_is_configured(gateway_factory, tmp_path, sink):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=mx.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    gw = gateway_factory(**{"server.tls_cert_file": str(cert), "server.tls_key_file": str(key)})
    with gw.smtp() as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=ssl._create_unverified_context())
        assert client.send_message(make_message("friend@example.org", [STAFF])) == {}
    sink.wait_for(1)


def test_no_starttls_without_a_certificate(gateway):
    with gateway.smtp() as client:
        client.ehlo()
        assert not client.has_extn("starttls")


def test_a_bad_config_value_is_named_in_one_line_at_start(tmp_path):
    config = write_config(tmp_path / "bad.toml", {"server.max_recipients": "lots",
                                                  "server.listen_port": free_port()})
    result = run_aupgate("serve", config=config)
    assert result.returncode == 78
    [line] = result.stderr.decode().strip().splitlines()
    assert "server.max_recipients" in line and "integer" in line


def test_an_unknown_key_is_named_too(tmp_path):
    config = write_config(tmp_path / "typo.toml", {"relay.downstrem": "127.0.0.1:25"})
    result = run_aupgate("serve", config=config)
    assert result.returncode == 78
    assert "relay.downstrem: unknown key" in result.stderr.decode()


def test_smtplib_refuses_nothing_quietly(gateway):
    """A refused recipient is an exception for the client, never a silent drop."""
    try:
        with gateway.smtp() as client:
            client.sendmail("a@example.org", ["x@elsewhere.example"], b"Subject: x\r\n\r\nx\r\n")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["x@elsewhere.example"][0] == 554
    else:
        raise AssertionError("relay to another domain was accepted")


def test_an_idle_client_is_disconnected_after_the_command_timeout(gateway_factory):
    gw = gateway_factory(**{"server.command_timeout": 1})
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        assert s.recv(512).startswith(b"220 ")
        s.sendall(b"EHLO slow.example\r\n")
        received = b""
        # Then nothing: the gateway must close the connection (recv returns b"") well
        # before this socket's own 30 s timeout would raise.
        while chunk := s.recv(512):
            received += chunk
    assert received.endswith(b"250 HELP\r\n")
