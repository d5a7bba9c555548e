"""Sender authentication: SPF, DKIM, DMARC, ARC; the Authentication-Results header;
the trust's own domain used without authentication; outbound DKIM signing.

Inbound mail is checked; outbound mail (from the academy mail server) is signed in
`rewrite`. Findings (the policy maps them to actions):

  auth.spf.<result>            MAIL FROM (or postmaster@HELO for the null sender)
  auth.spf.helo.<result>       the HELO name, for information
  auth.dkim.pass|fail|policy|permerror|temperror|none   (policy: l= leaves
                               part of the body unsigned)
                               one finding per outcome, the signatures in data; beside
                               a valid signature, the others are auth.dkim.other_failed
  auth.dmarc.pass|fail|none|temperror|permerror, and with a fail also
  auth.dmarc.fail.<disposition>  none|quarantine|reject: what the domain asks for
  auth.dmarc.override.arc      a trusted ARC sealer vouches for a forwarded message
  auth.arc.pass|fail|temperror, auth.arc.trusted_sealer
  impersonation.own_domain_unauthenticated
                               From is one of the trust's domains on inbound mail and
                               neither SPF nor DKIM passes for it

A DNS timeout or SERVFAIL gives `*.temperror`, never a pass and never "none".
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.auth.arc import ArcResult, ArcVerifier
from gateway.auth.dkim import DkimSignature, DkimVerifier
from gateway.auth.dmarc import DmarcEvaluator, DmarcResult, aligned
from gateway.auth.dns import Resolver
from gateway.auth.impersonation import from_domains as author_domains
from gateway.auth.impersonation import is_local
from gateway.auth.results_header import ResultsHeader, claims
from gateway.auth.signing import Signer, load_key
from gateway.auth.spf import SpfChecker, SpfResult
from gateway.checks import HeaderEdits
from gateway.config import ConfigError
from gateway.envelope import Direction, Envelope
from gateway.findings import Finding, Severity
from gateway.message import Message

NAME = "auth"
_log = logging.getLogger("aupgate.checks.auth")


class SigningKeySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str
    selector: str
    key_file: str                     # relative to gateway.toml's folder
    algorithm: Literal["rsa-sha256", "ed25519-sha256"] = "rsa-sha256"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    authserv_id: str = ""             # "" = [server] hostname
    nameservers: list[str] = Field(default_factory=list)   # "ip:port"; [] = system resolver
    dns_timeout: float = Field(2.0, gt=0, le=30)
    dns_tcp: bool = False
    time_budget: float = Field(8.0, gt=0, le=120)          # the whole check, per message
    spf_budget: float = Field(5.0, gt=0, le=60)
    cache_size: int = Field(10000, ge=0)
    min_ttl: float = Field(0, ge=0)
    max_ttl: float = Field(3600, ge=0)
    negative_ttl: float = Field(300, ge=0)
    error_ttl: float = Field(5, ge=0)
    spf: bool = True
    spf_helo: bool = True
    dkim: bool = True
    dmarc: bool = True
    arc: bool = True
    max_signatures: int = Field(10, ge=1, le=100)
    min_key_bits: int = Field(1024, ge=512)
    trusted_arc_sealers: list[str] = Field(default_factory=list)
    add_header: bool = True
    remove_forged_headers: bool = True
    own_domain_check: bool = True
    sign_outbound: bool = True
    signing_keys: list[SigningKeySettings] = Field(default_factory=list)

    @field_validator("nameservers")
    @classmethod
    def _ns(cls, value: list[str]) -> list[str]:
        import ipaddress

        for ns in value:
            host = ns.rsplit(":", 1)[0].strip("[]") if ns.count(":") == 1 or "]" in ns else ns
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(f"{ns!r} is not ip or ip:port") from None
        return value

    @field_validator("trusted_arc_sealers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [d.lower().rstrip(".") for d in value]


def _f(code: str, severity: Severity, score: float, detail: str, **data) -> Finding:
    return Finding(code, severity, score, detail, data)


SPF_SCORES = {"pass": (Severity.INFO, 0.0), "neutral": (Severity.INFO, 0.0),
              "none": (Severity.INFO, 0.0), "softfail": (Severity.LOW, 1.0),
              "fail": (Severity.MEDIUM, 2.0), "permerror": (Severity.LOW, 1.0),
              "temperror": (Severity.LOW, 0.0)}
DMARC_FAIL_SCORES = {"reject": 6.0, "quarantine": 4.0, "none": 1.0}


class AuthCheck:
    name = NAME

    def __init__(self, settings: Settings, resolver: Resolver, authserv_id: str,
                 local_domains: list[str], signer: Signer | None) -> None:
        self.settings = settings
        self.resolver = resolver
        self.authserv_id = authserv_id
        self.local_domains = {d.lower() for d in local_domains}
        self.spf = SpfChecker(resolver, settings.spf_budget)
        self.dkim = DkimVerifier(resolver, settings.max_signatures, settings.min_key_bits)
        self.arc = ArcVerifier(resolver, settings.trusted_arc_sealers, settings.min_key_bits)
        self.dmarc = DmarcEvaluator(resolver)
        self.signer = signer

    # -- run -----------------------------------------------------------------------------

    async def run(self, message: Message, envelope: Envelope) -> list[Finding]:
        if envelope.direction is not Direction.INBOUND:
            return []
        s = self.settings
        deadline = time.monotonic() + s.time_budget
        tasks: dict[str, asyncio.Task] = {}
        if s.spf:
            tasks["spf"] = asyncio.ensure_future(
                self.spf.check(envelope.client_ip, envelope.mail_from, envelope.helo))
        if s.dkim or s.dmarc:
            tasks["dkim"] = asyncio.ensure_future(self.dkim.verify(message.raw))
        if s.arc:
            tasks["arc"] = asyncio.ensure_future(self.arc.verify(message.raw))
        results = await _gather_until(tasks, deadline)

        findings: list[Finding] = []
        spf_results: list[SpfResult] | None = results.get("spf")
        mfrom = spf_results[0] if spf_results else None
        if s.spf:
            findings += self._spf_findings(spf_results, envelope)
        sigs: list[DkimSignature] | None = results.get("dkim")
        if s.dkim:
            findings += self._dkim_findings(sigs)
        arc: ArcResult | None = results.get("arc")
        if s.arc:
            findings += self._arc_findings(arc)

        from_domain = message.from_address.rpartition("@")[2].lower().rstrip(".")
        from_domains = author_domains(message.raw)
        dmarc: DmarcResult | None = None
        if s.dmarc:
            remaining = deadline - time.monotonic()
            if len(from_domains) > 1:
                # RFC 7489 6.6.1: which author would DMARC protect? A classic bypass.
                dmarc = DmarcResult("permerror", from_domain, reason="several From domains: "
                                    + ", ".join(sorted(from_domains)))
            elif sigs is None or (s.spf and spf_results is None) or remaining <= 0:
                dmarc = DmarcResult("temperror", from_domain,
                                    reason="time budget spent before DMARC could be evaluated")
            else:
                try:
                    async with asyncio.timeout(remaining):
                        dmarc = await self.dmarc.evaluate(from_domain, mfrom, sigs,
                                                          message.message_id)
                except TimeoutError:
                    dmarc = DmarcResult("temperror", from_domain,
                                        reason="time budget spent during DMARC lookup")
            findings += self._dmarc_findings(dmarc, arc)

        if s.own_domain_check and from_domain and is_local(from_domain, self.local_domains):
            findings += self._own_domain(from_domain, mfrom, spf_results, sigs, arc)
        return findings

    # -- findings ----------------------------------------------------------------------------

    def _spf_findings(self, results: list[SpfResult] | None, env: Envelope) -> list[Finding]:
        common = {"client_ip": env.client_ip, "helo": env.helo, "mail_from": env.mail_from}
        if results is None:
            return [_f("auth.spf.temperror", Severity.LOW, 0.0,
                       "SPF could not be checked within the time budget",
                       identity="mailfrom", domain="", result="temperror", **common)]
        out = []
        for r in results:
            if r.identity == "helo" and not self.settings.spf_helo:
                continue
            severity, score = SPF_SCORES.get(r.result, (Severity.LOW, 0.0))
            if r.identity == "helo":
                code, severity, score = f"auth.spf.helo.{r.result}", Severity.INFO, 0.0
                what = f"HELO {r.domain}"
            else:
                code = f"auth.spf.{r.result}"
                what = f"MAIL FROM domain {r.domain}" if env.mail_from else \
                    f"null sender (HELO {r.domain})"
            out.append(_f(code, severity, score,
                          f"SPF {r.result} for {what} from {env.client_ip}"
                          + (f": {r.explanation}" if r.explanation else ""),
                          identity=r.identity, domain=r.domain, result=r.result,
                          explanation=r.explanation, **common))
        return out

    def _dkim_findings(self, sigs: list[DkimSignature] | None) -> list[Finding]:
        if sigs is None:
            return [_f("auth.dkim.temperror", Severity.LOW, 0.0,
                       "DKIM could not be checked within the time budget", signatures=[])]
        if not sigs:
            return [_f("auth.dkim.none", Severity.INFO, 0.0, "The message is not DKIM-signed",
                       signatures=[])]
        # A signature that does not verify is as if it were absent (RFC 6376 6.1): beside
        # a valid one it is only recorded (auth.dkim.other_failed, and in the header).
        # A DNS error on an aligned signature still shows as auth.dmarc.temperror.
        any_pass = any(x.passed for x in sigs)
        groups = [("pass", [x for x in sigs if x.passed])]
        if any_pass:
            groups.append(("other_failed", [x for x in sigs if not x.passed]))
        else:
            groups += [(r, [x for x in sigs if x.result == r])
                       for r in ("fail", "policy", "permerror", "temperror")]
        out = []
        for code, group in groups:
            if not group:
                continue
            names = ", ".join(f"{x.domain or '?'} ({x.selector or '?'})" for x in group)
            reasons = "; ".join(sorted({x.reason for x in group if x.reason}))[:300]
            if code == "pass":
                sev, score, detail = Severity.INFO, 0.0, f"Valid DKIM signature by {names}"
            elif code == "other_failed":
                sev, score = Severity.INFO, 0.0
                detail = f"Beside a valid one, DKIM signature by {names} does not verify: {reasons}"
            elif code == "temperror":
                sev, score = Severity.LOW, 0.0
                detail = f"DKIM key lookup failed (DNS) for {names}"
            else:
                sev, score = Severity.LOW, 1.5
                verb = "is not accepted" if code == "policy" else "does not verify"
                detail = f"DKIM signature by {names} {verb}: {reasons}"
            out.append(_f(f"auth.dkim.{code}", sev, score, detail,
                          signatures=[x.to_dict() for x in group]))
        return out

    def _arc_findings(self, arc: ArcResult | None) -> list[Finding]:
        if arc is None:
            return [_f("auth.arc.temperror", Severity.LOW, 0.0,
                       "ARC could not be checked within the time budget", result="temperror")]
        if arc.result == "none":
            return []
        data = {"result": arc.result, "reason": arc.reason, "instances": arc.instances,
                "sealer": arc.sealer, "trusted": arc.trusted,
                "sealer_results": arc.sealer_results}
        if arc.result == "pass":
            out = [_f("auth.arc.pass", Severity.INFO, 0.0,
                      f"Valid ARC chain of {arc.instances}, last sealed by {arc.sealer}", **data)]
            if arc.trusted:
                out.append(_f("auth.arc.trusted_sealer", Severity.INFO, 0.0,
                              f"Forwarded through trusted sealer {arc.sealer}", **data))
            return out
        if arc.result == "temperror":
            return [_f("auth.arc.temperror", Severity.LOW, 0.0,
                       f"ARC key lookup failed: {arc.reason}", **data)]
        return [_f("auth.arc.fail", Severity.LOW, 0.5, f"Broken ARC chain: {arc.reason}",
                   **data)]

    def _arc_vouches(self, arc: ArcResult | None, from_domain: str) -> bool:
        """A trusted sealer saw this message pass before it was forwarded."""
        if arc is None or not arc.trusted:
            return False
        r = arc.sealer_results
        if r.get("dmarc") == "pass" and arc.sealer_from_domain == from_domain:
            return True
        # else an SPF or DKIM pass the sealer saw, for a domain aligned with From
        return any(key.split(":", 1)[0] in ("dkim", "spf") and value == "pass"
                   and aligned(key.split(":", 1)[1], from_domain, "r")
                   for key, value in r.items() if ":" in key)

    def _dmarc_findings(self, d: DmarcResult, arc: ArcResult | None) -> list[Finding]:
        data = d.data()
        where = d.from_domain or "(no From domain)"
        if d.result == "pass":
            how = "DKIM" if d.dkim_aligned else "SPF"
            return [_f("auth.dmarc.pass", Severity.INFO, 0.0,
                       f"DMARC pass for {where} through aligned {how}", **data)]
        if d.result == "none":
            return [_f("auth.dmarc.none", Severity.INFO, 0.0,
                       f"{where} publishes no DMARC policy", **data)]
        if d.result == "temperror":
            return [_f("auth.dmarc.temperror", Severity.LOW, 0.0,
                       f"DMARC for {where} could not be decided: {d.reason}", **data)]
        if d.result == "permerror":
            return [_f("auth.dmarc.permerror", Severity.MEDIUM, 3.0,
                       f"DMARC cannot be evaluated: {d.reason}", **data)]
        if self._arc_vouches(arc, d.from_domain):
            assert arc is not None
            return [
                _f("auth.dmarc.fail", Severity.INFO, 0.0,
                   f"DMARC fail for {where} (p={d.policy}) after a forward; the trusted "
                   f"sealer {arc.sealer} saw it pass", override="arc", **data),
                _f("auth.dmarc.override.arc", Severity.INFO, 0.0,
                   f"ARC from trusted sealer {arc.sealer} overrides the DMARC policy of {where}",
                   sealer=arc.sealer, sealer_results=arc.sealer_results, **data)]
        score = DMARC_FAIL_SCORES.get(d.disposition, 1.0)
        sev = Severity.HIGH if d.disposition == "reject" else Severity.MEDIUM
        return [
            _f("auth.dmarc.fail", sev, score,
               f"DMARC fail for {where}: no aligned SPF or DKIM pass; the domain asks for "
               f"p={d.policy}", **data),
            _f(f"auth.dmarc.fail.{d.disposition}", sev, 0.0,
               f"{where} asks receivers to {d.disposition} mail that fails DMARC"
               if d.disposition != "none" else f"{where} asks for no action (p=none)", **data)]

    def _own_domain(self, from_domain, mfrom, spf_results, sigs, arc) -> list[Finding]:
        dkim_ok = any(x.passed and aligned(x.domain, from_domain, "r") for x in sigs or [])
        spf_ok = bool(mfrom and mfrom.passed and aligned(mfrom.domain, from_domain, "r"))
        if dkim_ok or spf_ok or self._arc_vouches(arc, from_domain):
            return []
        unsure = spf_results is None or sigs is None or (mfrom and mfrom.result == "temperror") \
            or any(x.result == "temperror" and aligned(x.domain, from_domain, "r") for x in sigs)
        if unsure:
            return []         # the temperror findings say it; do not accuse on a DNS failure
        return [_f("impersonation.own_domain_unauthenticated", Severity.HIGH, 6.0,
                   f"From claims the trust's own domain {from_domain}, but neither SPF nor "
                   "DKIM passes for it: the sender is not the trust",
                   from_domain=from_domain, spf=mfrom.result if mfrom else "none",
                   dkim=[x.to_dict() for x in sigs or []])]

    # -- headers ------------------------------------------------------------------------------

    def headers(self, message: Message, envelope: Envelope,
                findings: list[Finding]) -> HeaderEdits:
        edits = HeaderEdits()
        if self.settings.remove_forged_headers:
            authserv_id = self.authserv_id
            edits.remove.append(lambda name, value: name.lower() == "authentication-results"
                                and claims(str(value), authserv_id))
        if self.settings.add_header and envelope.direction is Direction.INBOUND:
            edits.add.append(("Authentication-Results", self.results_header(findings)))
        return edits

    def results_header(self, findings: list[Finding]) -> str:
        h = ResultsHeader(self.authserv_id)
        by_prefix = [f for f in findings if f.code.startswith("auth.")]
        for f in by_prefix:
            parts = f.code.split(".")
            if parts[1] == "spf" and len(parts) == 3:
                h.add("spf", parts[2], comment=f.data.get("explanation", ""),
                      smtp_mailfrom=f.data.get("mail_from") or
                      (f"postmaster@{f.data.get('helo')}" if f.data.get("helo") else ""))
            elif parts[1] == "spf" and parts[2] == "helo":
                h.add("spf", parts[3], smtp_helo=f.data.get("helo", ""))
        for f in by_prefix:
            if f.code.startswith("auth.dkim."):
                if f.code == "auth.dkim.none":
                    h.add("dkim", "none")
                for sig in f.data.get("signatures", []):
                    h.add("dkim", sig["result"], reason=sig.get("reason", "")[:60],
                          header_d=sig["d"], header_s=sig["s"], header_a=sig["a"])
                if f.code == "auth.dkim.temperror" and not f.data.get("signatures"):
                    h.add("dkim", "temperror", comment="time budget spent")
        for f in by_prefix:
            if f.code in ("auth.dmarc.pass", "auth.dmarc.fail", "auth.dmarc.none",
                          "auth.dmarc.temperror", "auth.dmarc.permerror"):
                comment = ""
                if f.data.get("policy"):
                    comment = f"p={f.data['policy']} dis={f.data.get('disposition', 'none')}"
                    if f.data.get("override"):
                        comment += f" override={f.data['override']}"
                h.add("dmarc", f.code.split(".")[2], comment=comment,
                      header_from=f.data.get("from_domain", ""))
        for f in by_prefix:
            if f.code in ("auth.arc.pass", "auth.arc.fail", "auth.arc.temperror"):
                comment = f"sealer {f.data.get('sealer')}" if f.data.get("sealer") else ""
                if f.data.get("trusted"):
                    comment += " trusted"
                h.add("arc", f.data.get("result", f.code.split(".")[2]), comment=comment)
        return h.value()

    # -- outbound ------------------------------------------------------------------------------

    def rewrite(self, raw: bytes, envelope: Envelope) -> bytes:
        if self.signer is None or envelope.direction is not Direction.OUTBOUND:
            return raw
        try:
            return self.signer.sign(raw)
        except Exception:  # noqa: BLE001 - an unsigned message is better than a lost one
            _log.exception("DKIM signing failed; the message leaves unsigned")
            return raw

    async def close(self) -> None:
        return None


async def _gather_until(tasks: dict[str, asyncio.Task], deadline: float) -> dict:
    """The results of the tasks done by `deadline`; the others are cancelled (None)."""
    if not tasks:
        return {}
    done, pending = await asyncio.wait(tasks.values(),
                                       timeout=max(0.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    out = {}
    for name, task in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            out[name] = task.result()
        else:
            if task in done and not task.cancelled() and task.exception() is not None:
                _log.warning("auth %s failed: %r", name, task.exception())
            out[name] = None
    return out


def build(settings: Settings, services) -> AuthCheck | None:
    if not settings.enabled:
        return None
    config = services.config
    resolver = services.extra.get("auth.resolver")
    if resolver is None:
        resolver = Resolver(settings.nameservers, settings.dns_timeout, settings.min_ttl,
                            settings.max_ttl, settings.negative_ttl, settings.error_ttl,
                            settings.cache_size, settings.dns_tcp)
        services.extra["auth.resolver"] = resolver
    signer = None
    if settings.sign_outbound and settings.signing_keys:
        keys = []
        for k in settings.signing_keys:
            path = config.resolve(k.key_file)
            try:
                keys.append(load_key(k.domain, k.selector, path, k.algorithm))
            except OSError as e:
                raise ConfigError(f"gateway.toml: checks.auth.signing_keys: cannot read "
                                  f"{path}: {e.strerror}") from None
        signer = Signer(keys)
    authserv_id = settings.authserv_id or config.server.hostname
    return AuthCheck(settings, resolver, authserv_id, config.relay.local_domains, signer)
