"""ARC (RFC 8617) chain verification with dkimpy, and the trusted sealers.

The keys of every ARC-Seal and ARC-Message-Signature are fetched first through the
gateway's resolver (as for DKIM), then `dkim.ARC.verify` validates the chain. When the
chain passes and its newest seal is from a configured trusted sealer (for example the
trust's own cloud mail provider), that sealer's ARC-Authentication-Results may stand in
for SPF/DKIM/DMARC results that a forward broke.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

import dkim as dkimpy

from gateway.auth.dkim import _text, dnsfunc_from, fetch_keys, key_name, signature_tags
from gateway.auth.dns import Resolver

_quiet = logging.getLogger("aupgate.auth.dkimpy")


@dataclass(frozen=True)
class ArcResult:
    result: str                    # "pass", "fail", "none", "temperror"
    reason: str = ""
    instances: int = 0
    sealer: str = ""               # d= of the newest ARC-Seal
    trusted: bool = False          # chain passed and the newest sealer is trusted
    # The trusted sealer's own results for this message (method -> result),
    # from its ARC-Authentication-Results, e.g. {"dmarc": "pass", "spf": "pass"}.
    sealer_results: dict[str, str] = field(default_factory=dict)
    sealer_from_domain: str = ""   # header.from in that AAR's dmarc result, if any


class ArcVerifier:
    def __init__(self, resolver: Resolver, trusted_sealers: list[str], minkey: int = 1024,
                 max_instances: int = 50) -> None:
        self.resolver = resolver
        self.trusted = {d.lower().rstrip(".") for d in trusted_sealers}
        self.minkey = minkey
        self.max_instances = max_instances

    async def verify(self, raw: bytes) -> ArcResult:
        seals = signature_tags(raw, b"arc-seal")
        if not seals:
            return ArcResult("none", "no ARC headers")
        if len(seals) > self.max_instances:
            return ArcResult("fail", f"more than {self.max_instances} ARC sets")
        sigs = signature_tags(raw, b"arc-message-signature")
        names = {key_name(t) for t in seals + sigs} - {None}
        keys = await fetch_keys(self.resolver, names)  # type: ignore[arg-type]
        broken = [a for a in keys.values() if a.temperror]
        cv, results, reason = await asyncio.to_thread(self._verify_chain, raw, keys)
        if cv != dkimpy.CV_Pass:
            if broken:
                return ArcResult("temperror", f"key lookup failed: {broken[0].error}",
                                 len(results))
            return ArcResult("none" if cv == dkimpy.CV_None else "fail",
                             _text(reason) if isinstance(reason, bytes) else str(reason),
                             len(results))
        newest = max(results, key=lambda r: r["instance"])
        sealer = _text(newest.get("as-domain")).lower()
        trusted = sealer in self.trusted
        sealer_results, from_domain = ({}, "")
        if trusted:
            sealer_results, from_domain = _aar_results(raw, newest["instance"])
        return ArcResult("pass", "", len(results), sealer, trusted, sealer_results, from_domain)

    def _verify_chain(self, raw: bytes, keys) -> tuple:
        arc = dkimpy.ARC(raw, logger=_quiet, minkey=self.minkey)
        try:
            return arc.verify(dnsfunc=dnsfunc_from(keys))
        except Exception as e:  # noqa: BLE001 - dkimpy on hostile input
            return dkimpy.CV_Fail, [], f"verifier error: {e}"


_RESINFO = re.compile(r"^\s*([a-z0-9-]+)\s*=\s*([a-z]+)(.*)$", re.I | re.S)
_PROP = re.compile(r"([a-z]+\.[a-z-]+)\s*=\s*\"?([^\s;\"]+)", re.I)


def _aar_results(raw: bytes, instance: int) -> tuple[dict[str, str], str]:
    """method -> result from the ARC-Authentication-Results of `instance`, plus the
    From domain the sealer evaluated. A dkim or spf pass counts only for the domain it
    was for: they are recorded as "dkim:<d>" and "spf:<mailfrom domain>"."""
    try:
        headers, _ = dkimpy.rfc822_parse(raw)
    except Exception:  # noqa: BLE001
        return {}, ""
    for name, value in headers:
        if name.lower() != b"arc-authentication-results":
            continue
        text = re.sub(r"\([^()]*\)", " ", _text(value).replace("\r\n", " ").replace("\n", " "))
        m = re.match(r"\s*i\s*=\s*(\d+)\s*;(.*)", text, re.S)
        if not m or int(m.group(1)) != instance:
            continue
        results: dict[str, str] = {}
        from_domain = ""
        for resinfo in m.group(2).split(";")[1:]:          # [0] is the authserv-id
            r = _RESINFO.match(resinfo)
            if not r:
                continue
            method, result = r.group(1).lower(), r.group(2).lower()
            props = {k.lower(): v.lower() for k, v in _PROP.findall(r.group(3))}
            if results.get(method) != "pass":            # keep the best result per method
                results[method] = result
            if method == "dmarc" and props.get("header.from"):
                from_domain = props["header.from"]
            if result == "pass" and method == "dkim":
                d = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
                if d:
                    results[f"dkim:{d}"] = "pass"
            if result == "pass" and method == "spf":
                mf = props.get("smtp.mailfrom", "")
                if mf:
                    results[f"spf:{mf.rpartition('@')[2]}"] = "pass"
        return results, from_domain
    return {}, ""
