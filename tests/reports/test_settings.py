"""The [reports] table is checked at start like every other table."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, load_config
from gateway.reports.settings import reports_settings


def test_reports_table_is_validated():
    settings = reports_settings(load_config())
    assert settings.address == "report@stchristophers.example"
    assert settings.max_attached_messages == 20
    for overrides, message in (
            ({"reports.adress": "x@stchristophers.example"}, "reports.adress: unknown key"),
            ({"reports.address": "not an address"}, "reports.address"),
            ({"reports.address": "report@elsewhere.example"}, "not in relay.local_domains"),
            ({"reports.link_window_days": 0}, "reports.link_window_days"),
            ({"reports.max_attached_messages": 0}, "reports.max_attached_messages")):
        with pytest.raises(ConfigError, match=message):
            reports_settings(load_config(overrides=overrides))
    assert reports_settings(load_config(overrides={"reports.address": ""})).address == ""
