"""The policy turns findings into one decision per recipient, by audience."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError
from gateway.envelope import Audience, Direction, Envelope, Party
from gateway.findings import Finding, Severity
from gateway.policy import Action, Policy, PolicyFile

POLICY = PolicyFile.model_validate({
    "thresholds": {"pupil": {"tag": 3, "quarantine": 8}, "staff": {"tag": 5}},
    "rules": [
        {"findings": ["attachment.virus"], "action": "quarantine", "reason": "Malware"},
        {"findings": ["content.serious.*"], "audience": {"pupil": "quarantine",
                                                          "staff": "escalate"}},
        {"findings": ["check.failed.*"], "action": "defer"},
    ],
})


def envelope(*recipients: tuple[str, Audience]) -> Envelope:
    return Envelope("a@example.org", Party("a@example.org", Audience.EXTERNAL),
                    [Party(a, aud) for a, aud in recipients], "192.0.2.1", "x",
                    Direction.INBOUND)


def finding(code: str, score: float = 0.0, recipients=()) -> Finding:
    return Finding(code, Severity.MEDIUM, score, code, recipients=recipients)


def test_rules_by_audience_give_one_decision_per_recipient():
    env = envelope(("p@s.example", Audience.PUPIL), ("t@s.example", Audience.STAFF))
    pupil, staff = Policy(POLICY).decide([finding("content.serious.violence")], env)
    assert pupil.action is Action.QUARANTINE and staff.action is Action.ESCALATE
    assert staff.alert and "content.serious.violence" in staff.reasons[0]


def test_thresholds_add_scores_and_pupils_are_stricter():
    env = envelope(("p@s.example", Audience.PUPIL), ("t@s.example", Audience.STAFF))
    pupil, staff = Policy(POLICY).decide([finding("a", 2.0), finding("b", 2.0)], env)
    assert pupil.action is Action.TAG and staff.action is Action.DELIVER
    assert "threshold" in pupil.reasons[0]


def test_strongest_action_wins_and_defer_ranks_below_quarantine():
    env = envelope(("t@s.example", Audience.STAFF))
    [d] = Policy(POLICY).decide([finding("check.failed.auth"), finding("attachment.virus")], env)
    assert d.action is Action.QUARANTINE
    [d] = Policy(POLICY).decide([finding("check.failed.auth")], env)
    assert d.action is Action.DEFER


def test_a_finding_for_one_recipient_does_not_touch_the_others():
    env = envelope(("p@s.example", Audience.PUPIL), ("t@s.example", Audience.STAFF))
    f = finding("attachment.virus", recipients=("p@s.example",))
    pupil, staff = Policy(POLICY).decide([f], env)
    assert pupil.action is Action.QUARANTINE and staff.action is Action.DELIVER


def test_the_shipped_policy_loads():
    Policy.load(Path(__file__).resolve().parents[2] / "config" / "policy.toml")


def test_a_bad_policy_is_named(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text('[[rules]]\nfindings = ["x"]\naction = "explode"\n')
    with pytest.raises(ConfigError, match=r"rules\.0\.action"):
        Policy.load(bad)


def test_memory_budget_is_enforced_by_the_config_schema():
    from pydantic import ValidationError

    from gateway.config import ServerConfig

    with pytest.raises(ValidationError, match="memory_budget_bytes"):
        ServerConfig(max_sessions=1000, max_message_bytes=50 * 1024**2)
