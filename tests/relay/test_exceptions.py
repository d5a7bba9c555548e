"""Exceptions staff grant: they allow at once, lapse by themselves, and are audited."""

from __future__ import annotations

import smtplib
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import PUPIL, TRUSTED_IP, audit_actions, make_message, run_aupgate


def test_an_exception_allows_then_lapses(gateway, sink, store_url):
    author = "author@publisher.example"

    def send():
        with gateway.smtp(TRUSTED_IP) as client:
            return client.send_message(make_message(PUPIL, [author]))

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send()
    until = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S")
    granted = run_aupgate("exception", "grant", "--group", "year6", "--contact", author,
                          "--until", until, "--reason", "Author visit: pupils may write",
                          "--by", "j.harris@stchristophers.example", config=gateway.config)
    assert granted.returncode == 0, granted.stderr
    listed = run_aupgate("exception", "list", config=gateway.config).stdout.decode()
    assert "group:year6" in listed and author in listed and "in force" in listed

    assert send() == {}
    sink.wait_for(1)

    time.sleep(max(0.0, (datetime.fromisoformat(until).replace(tzinfo=UTC)
                         - datetime.now(UTC)).total_seconds()) + 0.5)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send()
    assert "no exceptions in force" in run_aupgate(
        "exception", "list", config=gateway.config).stdout.decode()
    actions = audit_actions(store_url)
    assert {"exception.grant", "exception.use", "exception.lapse"} <= set(actions)
    verify = run_aupgate("audit", "verify", config=gateway.config)
    assert verify.returncode == 0, verify.stderr


def test_an_exception_needs_a_reason_and_a_future_expiry(gateway):
    past = run_aupgate("exception", "grant", "--pupil", PUPIL, "--contact", "@museum.example",
                       "--until", "2020-01-01", "--reason", "trip", "--by", "x",
                       config=gateway.config)
    assert past.returncode != 0 and b"future" in past.stderr
