"""The policy: findings plus each recipient's audience in, one decision per recipient out.

`config/policy.toml` holds two things. Rules name findings (shell-style globs on the
finding code) and the action they force, for every audience or per audience.
Thresholds turn the sum of all finding scores into an action per audience. A
recipient's decision is the strongest action any rule or threshold gives it, and it
carries every reason that led there. Nothing else in the gateway decides anything.
"""

from __future__ import annotations

import enum
import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.config import ConfigError, format_validation_error
from gateway.envelope import Audience, Envelope
from gateway.findings import Finding


class Action(enum.IntEnum):
    """Weakest first. DEFER (451, "ask again later") ranks below QUARANTINE and REJECT:
    when a message is already certain to be held or refused, a lookup that timed out
    does not change that."""

    DELIVER = 0
    TAG = 1
    ESCALATE = 2
    DEFER = 3
    QUARANTINE = 4
    REJECT = 5

    def __str__(self) -> str:
        return self.name.lower()


ActionName = Literal["deliver", "tag", "escalate", "defer", "quarantine", "reject"]
AUDIENCES = tuple(a.value for a in Audience)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    tag: float | None = None
    escalate: float | None = None
    quarantine: float | None = None
    reject: float | None = None


class Rule(_Strict):
    findings: list[str] = Field(min_length=1)
    action: ActionName | None = None
    audience: dict[Literal["pupil", "staff", "external"], ActionName] = Field(default_factory=dict)
    reason: str = ""
    # Tell the reviewers at once (escalations always do).
    alert: bool = False

    @model_validator(mode="after")
    def _has_action(self) -> Rule:
        if self.action is None and not self.audience:
            raise ValueError("a rule needs an action or per-audience actions")
        return self

    def action_for(self, audience: Audience) -> Action | None:
        name = self.audience.get(audience.value, self.action)  # type: ignore[call-overload]
        return Action[name.upper()] if name else None

    def matches(self, code: str) -> bool:
        return any(fnmatch.fnmatchcase(code, pattern) for pattern in self.findings)


class PolicyFile(_Strict):
    thresholds: dict[Literal["pupil", "staff", "external"], Thresholds] = Field(
        default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)


@dataclass
class Decision:
    recipient: str
    audience: Audience
    action: Action
    score: float
    reasons: list[str] = field(default_factory=list)
    alert: bool = False
    # The findings that drove the decision: those a rule matched, or, when a score
    # threshold decided, those that scored.
    drivers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"action": str(self.action), "audience": self.audience.value,
                "score": round(self.score, 3), "reasons": self.reasons, "alert": self.alert,
                "drivers": self.drivers}


class Policy:
    def __init__(self, spec: PolicyFile) -> None:
        self.spec = spec

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such policy file") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        try:
            return cls(PolicyFile.model_validate(data))
        except ValidationError as e:
            raise ConfigError(format_validation_error(str(path), e)) from None

    def decide(self, findings: list[Finding], envelope: Envelope) -> list[Decision]:
        decisions = []
        for r in envelope.recipients:
            mine = [f for f in findings if f.concerns(r.address)]
            decisions.append(self._decide_one(mine, sum(f.score for f in mine), r.address,
                                              r.audience))
        return decisions

    def _decide_one(self, findings: list[Finding], score: float, rcpt: str,
                    audience: Audience) -> Decision:
        decision = Decision(rcpt, audience, Action.DELIVER, score)
        for rule in self.spec.rules:
            matched = [f for f in findings if rule.matches(f.code)]
            action = rule.action_for(audience)
            if not matched or action is None:
                continue
            codes = ", ".join(sorted({f.code for f in matched}))
            decision.reasons.append(f"{action}: {rule.reason or codes} ({codes})")
            decision.alert |= rule.alert or action == Action.ESCALATE
            decision.action = max(decision.action, action)
            decision.drivers.extend(f.code for f in matched if f.code not in decision.drivers)
        thresholds = self.spec.thresholds.get(audience.value)  # type: ignore[call-overload]
        if thresholds is not None:
            for name in ("tag", "escalate", "quarantine", "reject"):
                limit = getattr(thresholds, name)
                if limit is not None and score >= limit:
                    action = Action[name.upper()]
                    if action > decision.action:
                        decision.reasons.append(
                            f"{action}: total score {score:.1f} reached the {audience.value} "
                            f"threshold {limit:g}")
                        decision.action = action
                        decision.alert |= action == Action.ESCALATE
                        decision.drivers.extend(f.code for f in findings
                                                if f.score and f.code not in decision.drivers)
        return decision
