"""Findings: what a check observed about a message, never what to do about it.

A check returns findings; `gateway.policy` alone turns them into actions. This is
Rspamd's "symbols" idea: a finding has a stable dotted code that the policy file
matches on (`auth.dmarc.fail`, `attachment.virus`, `content.gross.racist`), a score
that thresholds add up, a severity for people, and a sentence a reviewer can read.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    score: float
    detail: str
    # Structured evidence for reviewers and case files (matched words, part paths,
    # probabilities). Must be JSON-serialisable.
    data: dict[str, Any] = field(default_factory=dict)
    # The recipients this finding concerns; empty means the whole message.
    recipients: tuple[str, ...] = ()

    def concerns(self, recipient: str) -> bool:
        return not self.recipients or recipient.lower() in self.recipients

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "score": round(self.score, 3),
            "detail": self.detail,
            "data": self.data,
            **({"recipients": list(self.recipients)} if self.recipients else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            code=d["code"],
            severity=Severity[d["severity"].upper()],
            score=float(d["score"]),
            detail=d["detail"],
            data=dict(d.get("data") or {}),
            recipients=tuple(d.get("recipients") or ()),
        )


def findings_to_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], sort_keys=True)


def findings_from_json(text: str | None) -> list[Finding]:
    return [Finding.from_dict(d) for d in json.loads(text or "[]")]
