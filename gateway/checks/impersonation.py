"""Impersonation of the trust's staff and domains on inbound mail, and the safeguarding
rule on staff writing to pupils from personal accounts (policy 2.1.1).

  impersonation.staff_display_name   external From whose display name is a member of staff
  impersonation.lookalike_domain     From (or Reply-To, envelope sender) domain that looks
                                     like one of the trust's domains
  impersonation.reply_to_outside     From claims a trust domain, Reply-To leads outside
  safeguarding.staff_personal_account_to_pupil
                                     the first, sent to a pupil: escalated to reviewers

`impersonation.own_domain_unauthenticated` needs the SPF/DKIM results and is emitted by
the `auth` check. Staff names come from the directory (`services.directory`).
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.impersonation import (
    FREEMAIL,
    StaffIndex,
    from_display_name,
    is_local,
    lookalike,
)
from gateway.auth.psl import org_domain
from gateway.envelope import Audience, Direction, Envelope
from gateway.findings import Finding, Severity
from gateway.message import Message

NAME = "impersonation"
_log = logging.getLogger("aupgate.checks.impersonation")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    staff_display_name: bool = True
    lookalike_domain: bool = True
    reply_to_outside: bool = True
    safeguarding: bool = True
    # Match "Mrs Johnson" (title and surname) as well as full names.
    match_title_surname: bool = True
    # Domains to protect besides [relay] local_domains (the trust's other domains).
    protected_domains: list[str] = Field(default_factory=list)
    # Domains that look like ours but are known and fine (a sister school, a supplier).
    lookalike_ignore: list[str] = Field(default_factory=list)
    # Shortest owner label for edit-distance and added-word matching.
    min_label_length: int = Field(5, ge=3, le=20)
    staff_refresh_seconds: float = Field(60, ge=0)


class ImpersonationCheck:
    name = NAME

    def __init__(self, settings: Settings, directory, local_domains: list[str]) -> None:
        self.settings = settings
        self.directory = directory
        self.local_domains = {d.lower() for d in local_domains}
        self.protected = sorted(self.local_domains | {d.lower().rstrip(".")
                                                      for d in settings.protected_domains})
        self.ignore = {org_domain(d) for d in settings.lookalike_ignore}
        self._index = StaffIndex([])
        self._index_key: object = None
        self._index_at = float("-inf")

    async def _staff(self) -> StaffIndex:
        d = self.directory
        if d is None:
            return self._index
        if hasattr(d, "ensure_fresh"):
            try:
                await d.ensure_fresh()
            except Exception:  # noqa: BLE001 - a store hiccup must not drop the check
                _log.warning("directory refresh failed; using the staff list already loaded")
        key = getattr(d, "_loaded_at", None)
        now = time.monotonic()
        if key != self._index_key or (key is None and
                                      now - self._index_at > self.settings.staff_refresh_seconds):
            self._index = StaffIndex([(p.address, p.name) for p in d.staff()])
            self._index_key, self._index_at = key, now
        return self._index

    async def run(self, message: Message, envelope: Envelope) -> list[Finding]:
        if envelope.direction is not Direction.INBOUND:
            return []
        s = self.settings
        address = message.from_parsed[1]
        name = from_display_name(message)
        from_domain = address.rpartition("@")[2].lower().rstrip(".")
        external = bool(from_domain) and not is_local(from_domain, self.local_domains)
        findings: list[Finding] = []

        if external and name and (s.staff_display_name or s.safeguarding):
            matches = [m for m in (await self._staff()).match(name, self.local_domains)
                       if s.match_title_surname or m.kind != "title_surname"]
            if matches:
                data = {"display_name": name, "from": address,
                        "matches": [{"address": m.address, "name": m.name, "kind": m.kind}
                                    for m in matches],
                        "freemail": org_domain(from_domain) in FREEMAIL}
                who = ", ".join(f"{m.name} <{m.address}>" for m in matches[:3])
                strong = any(m.kind in ("full", "address_in_name") for m in matches)
                if s.staff_display_name:
                    findings.append(Finding(
                        "impersonation.staff_display_name",
                        Severity.HIGH if strong else Severity.MEDIUM, 4.0 if strong else 2.5,
                        f"Mail from outside ({address}) uses the name of staff: {who}", data))
                pupils = [r.address for r in envelope.recipients
                          if r.audience is Audience.PUPIL]
                if s.safeguarding and pupils:
                    findings.append(Finding(
                        "safeguarding.staff_personal_account_to_pupil", Severity.HIGH, 5.0,
                        f"A message to a pupil from an outside address ({address}) under the "
                        f"name of staff ({who}): staff must not contact pupils from personal "
                        "accounts (policy 2.1.1)", {**data, "pupils": pupils}))

        if s.lookalike_domain:
            candidates = {"from": from_domain,
                          "envelope": envelope.mail_from.rpartition("@")[2].lower().rstrip(".")}
            for i, addr in enumerate(message.reply_to_addresses):
                candidates[f"reply_to_{i}"] = addr.rpartition("@")[2].lower().rstrip(".")
            seen = set()
            for where, domain in candidates.items():
                if not domain or domain in seen or is_local(domain, self.local_domains):
                    continue
                seen.add(domain)
                if org_domain(domain) in self.ignore:
                    continue
                hit = lookalike(domain, self.protected, s.min_label_length)
                if hit:
                    findings.append(Finding(
                        "impersonation.lookalike_domain", Severity.HIGH, 5.0,
                        f"The {where.split('_')[0].replace('reply', 'Reply-To')} domain "
                        f"{domain} looks like the trust's {hit.protected} ({hit.kind.replace('_', ' ')})",
                        {"domain": domain, "where": where, "protected": hit.protected,
                         "kind": hit.kind, "distance": hit.distance}))
                    break

        if s.reply_to_outside and from_domain and not external:
            outside = [a for a in message.reply_to_addresses
                       if not is_local(a, self.local_domains)]
            if outside:
                findings.append(Finding(
                    "impersonation.reply_to_outside", Severity.MEDIUM, 3.0,
                    f"From claims the trust ({address}) but replies would go outside to "
                    f"{', '.join(outside[:3])}", {"from": address, "reply_to": outside}))
        return findings


def build(settings: Settings, services) -> ImpersonationCheck | None:
    if not settings.enabled:
        return None
    return ImpersonationCheck(settings, services.directory, services.config.relay.local_domains)
