"""An async DNS resolver for the authentication checks: TTL cache, coalescing, budget.

`Resolver.query(name, rdtype)` returns a `DnsAnswer` whose `status` says what DNS
said: "ok" (records), "nxdomain", "nodata" or "temperror" (timeout, SERVFAIL, refused,
no nameserver reachable). A temporary error is never reported as an empty answer.

Answers are cached for their TTL (clamped to [min_ttl, max_ttl]); negative answers for
`negative_ttl`; temporary errors for `error_ttl` seconds so that a dead nameserver is
not asked again for every message of a burst. Concurrent identical queries share one
lookup: a burst of mail from one sender costs one query per name.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

OK, NXDOMAIN, NODATA, TEMPERROR = "ok", "nxdomain", "nodata", "temperror"


@dataclass(frozen=True)
class DnsAnswer:
    name: str
    rdtype: str
    status: str
    # TXT: tuple of byte strings per record; A/AAAA: address text; MX: (preference,
    # exchange text); PTR/CNAME: target text.
    records: tuple[Any, ...] = ()
    ttl: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def temperror(self) -> bool:
        return self.status == TEMPERROR

    def txt(self) -> list[str]:
        """Each TXT record's strings joined, decoded (for DKIM, DMARC, SPF)."""
        if self.rdtype != "TXT":
            return []
        return [b"".join(r).decode("utf-8", "replace") for r in self.records]


@dataclass
class ResolverStats:
    queries: int = 0          # lookups actually sent to a nameserver
    hits: int = 0             # answered from the cache
    coalesced: int = 0        # waited on an identical lookup already in flight
    temperrors: int = 0


class Resolver:
    def __init__(self, nameservers: list[str] | None = None, timeout: float = 2.0,
                 min_ttl: float = 0.0, max_ttl: float = 3600.0, negative_ttl: float = 300.0,
                 error_ttl: float = 5.0, cache_size: int = 10000, use_tcp: bool = False) -> None:
        self.timeout = timeout
        self.min_ttl, self.max_ttl = min_ttl, max_ttl
        self.negative_ttl, self.error_ttl = negative_ttl, error_ttl
        self.cache_size = cache_size
        self.use_tcp = use_tcp
        self.stats = ResolverStats()
        self._cache: OrderedDict[tuple[str, str], tuple[float, DnsAnswer]] = OrderedDict()
        self._inflight: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}
        self._config_error = ""
        self._resolver = self._make_resolver(nameservers or [])

    def _make_resolver(self, nameservers: list[str]) -> dns.asyncresolver.Resolver | None:
        if nameservers:
            r = dns.asyncresolver.Resolver(configure=False)
            servers = []
            for ns in nameservers:
                host, port = _host_port(ns)
                servers.append(dns.nameserver.Do53Nameserver(host, port))
            r.nameservers = servers
        else:
            try:
                r = dns.asyncresolver.Resolver()
            except (dns.resolver.NoResolverConfiguration, OSError) as e:
                # Offline or no resolv.conf: every lookup is a temporary error.
                self._config_error = f"no DNS resolver configured: {e}"
                return None
        r.cache = None
        r.timeout = self.timeout
        r.lifetime = self.timeout
        r.retry_servfail = False
        return r

    # -- cache -----------------------------------------------------------------

    def cached(self, name: str, rdtype: str, evict: bool = True) -> DnsAnswer | None:
        """A fresh cached answer. From another thread (pyspf's), pass evict=False: only
        the event loop's thread changes the cache."""
        key = (_norm(name), rdtype.upper())
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, answer = entry
        if expires < time.monotonic():
            if evict:
                self._cache.pop(key, None)
            return None
        return answer

    def _store(self, answer: DnsAnswer) -> None:
        if answer.status == OK:
            ttl = min(max(answer.ttl, self.min_ttl), self.max_ttl)
        elif answer.status == TEMPERROR:
            ttl = self.error_ttl
        else:
            ttl = min(self.negative_ttl, self.max_ttl)
        if ttl <= 0:
            return
        key = (answer.name, answer.rdtype)
        self._cache[key] = (time.monotonic() + ttl, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def clear(self) -> None:
        self._cache.clear()

    # -- lookups -----------------------------------------------------------------

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        key = (_norm(name), rdtype.upper())
        hit = self.cached(*key)
        if hit is not None:
            self.stats.hits += 1
            return hit
        pending = self._inflight.get(key)
        if pending is not None and not pending.done() \
                and pending.get_loop() is asyncio.get_running_loop():
            self.stats.coalesced += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[DnsAnswer] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            answer = await self._lookup(*key)
            self._store(answer)
            future.set_result(answer)
            return answer
        except BaseException as e:  # cancelled: let the waiters see a temporary error
            if not future.done():
                future.set_result(DnsAnswer(key[0], key[1], TEMPERROR, error=repr(e)))
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    async def txt(self, name: str) -> DnsAnswer:
        return await self.query(name, "TXT")

    async def _lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.stats.queries += 1
        if self._resolver is None:
            self.stats.temperrors += 1
            return DnsAnswer(name, rdtype, TEMPERROR, error=self._config_error)
        try:
            answer = await self._resolver.resolve(
                name + ".", rdtype, tcp=self.use_tcp, lifetime=self.timeout,
                raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(name, rdtype, NXDOMAIN)
        except dns.resolver.NoAnswer:
            return DnsAnswer(name, rdtype, NODATA)
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN,
                dns.exception.DNSException, OSError) as e:
            self.stats.temperrors += 1
            return DnsAnswer(name, rdtype, TEMPERROR, error=f"{type(e).__name__}: {e}")
        if answer.rrset is None:
            return DnsAnswer(name, rdtype, NODATA)
        return DnsAnswer(name, rdtype, OK, tuple(_rdata(r, rdtype) for r in answer.rrset),
                         float(answer.rrset.ttl))


def _rdata(r: Any, rdtype: str) -> Any:
    if rdtype == "TXT":
        return tuple(r.strings)
    if rdtype in ("A", "AAAA"):
        return r.address
    if rdtype == "MX":
        return (r.preference, r.exchange.to_text(omit_final_dot=True))
    if rdtype in ("PTR", "CNAME"):
        return r.target.to_text(omit_final_dot=True)
    return r.to_text()


def _norm(name: str | bytes) -> str:
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    return name.strip().rstrip(".").lower()


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or host.count(":") and not host.startswith("["):
        return value.strip("[]"), 53          # bare IPv4 or IPv6 address
    return host.strip("[]"), int(port)
