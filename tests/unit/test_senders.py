"""A sender a reviewer allowed scores below the thresholds; rules still apply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.checks.senders import AllowedSenders, Settings
from gateway.envelope import Audience, Direction, Envelope, Party
from gateway.findings import Finding, Severity
from gateway.message import Message
from gateway.policy import Action, Policy, PolicyFile
from quarantine.store import open_store
from quarantine.store.reviews import SenderAllow

POLICY = Policy(PolicyFile.model_validate({
    "thresholds": {"pupil": {"tag": 3, "quarantine": 8}},
    "rules": [{"findings": ["attachment.virus"], "action": "quarantine"}]}))


async def _run(url: str, sender: str) -> list[Finding]:
    store = await open_store(url)
    try:
        async with store.transaction() as s:
            s.add(SenderAllow(address="@newsletters.example", reason="the PTA's newsletter",
                              created_by="head", created_at=datetime.now(UTC)))
        check = AllowedSenders(Settings(), store)
        msg = Message.parse(f"From: {sender}\r\nSubject: x\r\n\r\nhello\r\n".encode())
        env = Envelope(sender, Party(sender, Audience.EXTERNAL),
                       [Party("p@stchristophers.example", Audience.PUPIL)], "192.0.2.1", "x",
                       Direction.INBOUND)
        return await check.run(msg, env)
    finally:
        await store.close()


def test_an_allowed_sender_stays_under_thresholds_but_not_under_rules(store_url):
    [allowed] = asyncio.run(_run(store_url, "editor@newsletters.example"))
    assert allowed.code == "sender.allowed" and allowed.score < 0
    assert asyncio.run(_run(store_url, "editor@elsewhere.example")) == []

    env = Envelope("e", Party("e", Audience.EXTERNAL),
                   [Party("p@stchristophers.example", Audience.PUPIL)], "192.0.2.1", "x",
                   Direction.INBOUND)
    bulky = Finding("content.mild.light_hearted", Severity.LOW, 4.0, "x")
    assert POLICY.decide([bulky], env)[0].action is Action.TAG
    assert POLICY.decide([bulky, allowed], env)[0].action is Action.DELIVER
    virus = Finding("attachment.virus", Severity.CRITICAL, 0.0, "x")
    assert POLICY.decide([virus, allowed], env)[0].action is Action.QUARANTINE
