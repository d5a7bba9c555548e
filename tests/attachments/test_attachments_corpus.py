"""Every message of the rspamd functional-test corpus runs through the check cleanly.

The corpus is read in place from ../shared/data (never copied into the repository).
"Cleanly" means: the check returns findings and never raises, never reports an
internal failure (`attachment.inspect_failed`) and never fails to reach clamd.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.message import Message
from tests.attachments.helpers import SHARED_DATA, codes

RSPAMD = SHARED_DATA / "mail" / "rspamd" / "test" / "functional" / "messages"
MESSAGES = sorted(RSPAMD.rglob("*.eml")) if RSPAMD.is_dir() else []


def _load(path: Path) -> Message:
    return Message.parse(path.read_bytes())


@pytest.mark.skipif(not MESSAGES, reason=f"{RSPAMD} is not there")
async def test_every_rspamd_message_runs_without_error(check, envelope):
    with_attachments = 0
    for path in MESSAGES:
        message = _load(path)
        with_attachments += bool(message.attachments)
        findings = await check.run(message, envelope)
        bad = codes(findings) & {"attachment.inspect_failed", "attachment.scan_failed"}
        assert not bad, (path.name, findings)
    assert with_attachments >= 10


@pytest.mark.skipif(not MESSAGES, reason=f"{RSPAMD} is not there")
@pytest.mark.parametrize("name, expected", [
    ("exe_attm.eml", "attachment.banned.executable"),
    ("zip-doublebad.eml", "attachment.double_extension"),
    ("rar4.eml", "attachment.banned.executable"),
])
async def test_rspamd_attachment_samples_are_flagged(check, envelope, name, expected):
    findings = await check.run(_load(RSPAMD / name), envelope)
    assert expected in codes(findings), findings
