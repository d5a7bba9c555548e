"""Fixtures for the attachment check: a real clamd of the tests' own."""

from __future__ import annotations

import pytest

from gateway.checks.attachments import AttachmentsCheck, Settings
from gateway.envelope import Envelope
from tests.attachments.clamd import Clamd
from tests.attachments.helpers import make_envelope


@pytest.fixture
def check(clamd: Clamd) -> AttachmentsCheck:
    return AttachmentsCheck(Settings(clamd=clamd.address, scan_timeout=20))


@pytest.fixture
def envelope() -> Envelope:
    return make_envelope()


