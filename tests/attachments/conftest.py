"""Fixtures for the attachment check: a real clamd of the tests' own."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.checks.attachments import AttachmentsCheck, Settings
from gateway.envelope import Envelope
from tests.attachments.clamd import Clamd, available
from tests.attachments.helpers import make_envelope


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory):
    """One clamd for the whole session (it starts in well under a second)."""
    if not available():
        pytest.skip("clamd/sigtool not installed (apt-get install clamav-daemon clamav-testfiles)")
    with Clamd(tmp_path_factory.mktemp("clamd")) as server:
        yield server


@pytest.fixture
def private_clamd(tmp_path: Path):
    """A clamd of this test's own, for tests that kill it."""
    if not available():
        pytest.skip("clamd/sigtool not installed")
    server = Clamd(tmp_path / "clamd").start()
    yield server
    server.stop()


@pytest.fixture
def check(clamd: Clamd) -> AttachmentsCheck:
    return AttachmentsCheck(Settings(clamd=clamd.address, scan_timeout=20))


@pytest.fixture
def envelope() -> Envelope:
    return make_envelope()


