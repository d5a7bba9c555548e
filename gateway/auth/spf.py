"""SPF (RFC 7208) with pyspf, off the event loop, through the gateway's resolver.

pyspf is synchronous and does its own DNS. It runs here in a worker thread
(`asyncio.to_thread`), and its DNS goes back to the event loop's `Resolver`, so SPF
shares the TTL cache with DKIM and DMARC and never reaches a nameserver the gateway
was not configured to use. pyspf keeps RFC 7208's limits (10 DNS mechanisms, 2 void
lookups); `budget` bounds the wall-clock time of one evaluation, after which the
result is temperror.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass

import spf as pyspf

from gateway.auth.dns import Resolver

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")

_local = threading.local()
_original_lookup = pyspf.DNSLookup


def _dispatch(name, qtype, strict=True, timeout=30):
    """pyspf's module-level DNS hook: the calling thread's bridge, if it set one."""
    bridge = getattr(_local, "bridge", None)
    if bridge is None:
        return _original_lookup(name, qtype, strict, timeout)
    return bridge(name, qtype)


pyspf.DNSLookup = _dispatch


@dataclass(frozen=True)
class SpfResult:
    identity: str          # "mailfrom" or "helo"
    domain: str
    result: str            # one of RESULTS
    explanation: str
    lookups: int = 0

    @property
    def passed(self) -> bool:
        return self.result == "pass"


class SpfChecker:
    def __init__(self, resolver: Resolver, budget: float = 5.0) -> None:
        self.resolver = resolver
        self.budget = budget

    async def check(self, ip: str, mail_from: str, helo: str) -> list[SpfResult]:
        """SPF for MAIL FROM (postmaster@HELO for the null sender) and for HELO."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.budget
        return await asyncio.to_thread(self._evaluate_all, loop, deadline, ip, mail_from, helo)

    def _evaluate_all(self, loop, deadline, ip, mail_from, helo) -> list[SpfResult]:
        """Both identities in one trip to the worker thread."""
        results = [self._evaluate(loop, deadline, ip, mail_from, helo, "mailfrom")]
        if helo and mail_from:
            results.append(self._evaluate(loop, deadline, ip, "", helo, "helo"))
        return results

    def _evaluate(self, loop, deadline, ip, mail_from, helo, identity) -> SpfResult:
        domain = (mail_from.rpartition("@")[2] if mail_from else helo).lower().rstrip(".")
        if not domain or not ip:
            return SpfResult(identity, domain, "none", "no domain or client address to check")
        _local.bridge = self._bridge(loop, deadline)
        try:
            q = pyspf.query(i=ip, s=mail_from, h=helo or "unknown", strict=True,
                            timeout=max(0.1, deadline - time.monotonic()),
                            querytime=max(0.1, deadline - time.monotonic()))
            result, _code, explanation = q.check()
            lookups = q.lookups
        except Exception as e:  # noqa: BLE001 - a pyspf bug is not a pass
            result, explanation, lookups = "temperror", f"SPF evaluation failed: {e}", 0
        finally:
            _local.bridge = None
        return SpfResult(identity, domain, result, explanation, lookups)

    def _bridge(self, loop, deadline):
        resolver = self.resolver

        def lookup(name, qtype):
            qtype = str(qtype).upper()
            answer = resolver.cached(name, qtype, evict=False)
            if answer is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise pyspf.TempError("DNS: SPF time budget exhausted")
                future = asyncio.run_coroutine_threadsafe(resolver.query(name, qtype), loop)
                try:
                    answer = future.result(timeout=remaining)
                except (concurrent.futures.TimeoutError, TimeoutError):
                    future.cancel()
                    raise pyspf.TempError("DNS: SPF time budget exhausted") from None
            if answer.temperror:
                raise pyspf.TempError(f"DNS {answer.error or 'temporary error'} for {name}")
            if not answer.ok:
                return []
            if qtype in ("TXT", "SPF"):
                return [((name, qtype), list(r)) for r in answer.records]
            return [((name, qtype), r) for r in answer.records]

        return lookup
