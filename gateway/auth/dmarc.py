"""DMARC (RFC 7489): policy discovery, identifier alignment and the requested policy.

Why not the `dmarc` package (1.2.1, installed): checked and not used for the decision.
Its relaxed alignment without a PSL object only accepts parent/child names (so
a.example.com and b.example.com do not align); it raises when `_dmarc` has several TXT
records even if only one is a DMARC record; it does no discovery (From domain, then the
organisational domain) and no `np`; a record whose `p` is invalid is an error rather
than "p=none if rua is valid" (6.6.3); and `pct` is never applied. The rules are short,
so they are implemented here, with the organisational domain from `gateway.auth.psl`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from gateway.auth.dkim import DkimSignature
from gateway.auth.dns import NXDOMAIN, Resolver
from gateway.auth.psl import org_domain
from gateway.auth.spf import SpfResult

POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DmarcRecord:
    domain: str                 # where it was found
    p: str = "none"
    sp: str | None = None
    np: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    raw: str = ""


@dataclass(frozen=True)
class DmarcResult:
    result: str                          # pass, fail, none, temperror, permerror
    from_domain: str
    policy: str = ""                     # the policy the domain asks for (p, sp or np)
    disposition: str = "none"            # what the domain asks us to do with this message
    record: DmarcRecord | None = None
    dkim_aligned: list[str] = field(default_factory=list)
    spf_aligned: bool = False
    reason: str = ""

    def data(self) -> dict:
        r = self.record
        return {"from_domain": self.from_domain, "policy": self.policy,
                "disposition": self.disposition, "reason": self.reason,
                "record_domain": r.domain if r else "", "record": r.raw if r else "",
                "pct": r.pct if r else None, "dkim_aligned": self.dkim_aligned,
                "spf_aligned": self.spf_aligned}


def parse_record(text: str, domain: str) -> DmarcRecord | None:
    """A DMARC record, or None if `text` is not one (6.3, 6.6.3)."""
    parts = [p.strip() for p in text.split(";")]
    if not parts or parts[0].replace(" ", "") != "v=DMARC1":
        return None
    tags: dict[str, str] = {}
    for part in parts[1:]:
        if "=" not in part:
            continue
        k, _, v = part.partition("=")
        tags.setdefault(k.strip().lower(), v.strip())
    p = tags.get("p", "").lower()
    if p not in POLICIES:
        if "rua" in tags:
            p = "none"       # 6.6.3: invalid or missing p with a valid rua is p=none
        else:
            return None
    sp = tags.get("sp", "").lower()
    np = tags.get("np", "").lower()
    try:
        pct = min(100, max(0, int(tags.get("pct", "100"))))
    except ValueError:
        pct = 100
    return DmarcRecord(
        domain=domain, p=p, sp=sp if sp in POLICIES else None,
        np=np if np in POLICIES else None,
        adkim="s" if tags.get("adkim", "r").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "r").lower() == "s" else "r", pct=pct, raw=text)


def aligned(identifier: str, from_domain: str, mode: str) -> bool:
    a, f = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not a or not f:
        return False
    if mode == "s":
        return a == f
    return org_domain(a) == org_domain(f)


class DmarcEvaluator:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    async def discover(self, from_domain: str) -> tuple[str, DmarcRecord | None, str]:
        """("ok"|"none"|"temperror", record, error) for the From domain (6.6.3)."""
        org = org_domain(from_domain)
        for candidate in dict.fromkeys([from_domain, org]):
            answer = await self.resolver.txt(f"_dmarc.{candidate}")
            if answer.temperror:
                return "temperror", None, answer.error
            records = [r for t in answer.txt() if (r := parse_record(t, candidate))]
            if len(records) == 1:
                return "ok", records[0], ""
            # none, or several (6.6.3: "If the remaining set contains multiple records
            # or no records, policy discovery terminates"); several -> try org domain too
        return "none", None, ""

    async def evaluate(self, from_domain: str, spf: SpfResult | None,
                       dkim: list[DkimSignature], message_id: str = "") -> DmarcResult:
        from_domain = from_domain.lower().rstrip(".")
        if not from_domain:
            return DmarcResult("permerror", "", reason="no usable From domain")
        status, record, error = await self.discover(from_domain)
        if status == "temperror":
            return DmarcResult("temperror", from_domain, reason=f"DMARC lookup failed: {error}")
        if record is None:
            return DmarcResult("none", from_domain, reason="no DMARC record")

        dkim_aligned = [s.domain for s in dkim
                        if s.passed and aligned(s.domain, from_domain, record.adkim)]
        spf_aligned = bool(spf and spf.passed and aligned(spf.domain, from_domain, record.aspf))
        if record.domain == from_domain:
            policy = record.p
        else:
            policy = record.sp or record.p
            if record.np and await self._nonexistent(from_domain):
                policy = record.np
        if dkim_aligned or spf_aligned:
            return DmarcResult("pass", from_domain, policy, "none", record, dkim_aligned,
                               spf_aligned)
        # A lookup that failed for an aligned identifier might have passed: say so
        # rather than fail on a DNS problem.
        unsure = [s for s in dkim if s.result == "temperror"
                  and aligned(s.domain, from_domain, record.adkim)]
        if unsure or (spf and spf.result == "temperror"
                      and aligned(spf.domain, from_domain, record.aspf)):
            return DmarcResult("temperror", from_domain, policy, "none", record,
                               reason="an aligned SPF or DKIM check had a DNS error")
        disposition = policy
        if record.pct < 100 and _sampled_out(message_id or from_domain, record.pct):
            # 6.6.4: outside the sample, apply the next less strict policy
            disposition = {"reject": "quarantine", "quarantine": "none"}.get(policy, "none")
        return DmarcResult("fail", from_domain, policy, disposition, record, [], False,
                           "no aligned SPF or DKIM pass")

    async def _nonexistent(self, domain: str) -> bool:
        results = [await self.resolver.query(domain, t) for t in ("A", "AAAA", "MX")]
        return all(r.status == NXDOMAIN for r in results)


def _sampled_out(key: str, pct: int) -> bool:
    """Deterministic per message, so that a retried (451) message gets the same answer."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") % 100
    return bucket >= pct
