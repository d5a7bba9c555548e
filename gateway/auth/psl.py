"""Organisational domains (RFC 7489 3.2) from the public suffix list shipped with
publicsuffix2 (no download at run time).

publicsuffix2's `get_sld` answers the bare TLD for names under a TLD it does not list
(`a.b.example` -> "example"), which is wrong for DMARC: the list's default rule "*"
makes an unlisted TLD a public suffix, so the organisational domain is one label more.
This module takes only the public suffix from publicsuffix2 and adds the label itself.
"""

from __future__ import annotations

from functools import lru_cache

from publicsuffix2 import PublicSuffixList

_psl: PublicSuffixList | None = None


def _list() -> PublicSuffixList:
    global _psl
    if _psl is None:
        _psl = PublicSuffixList()
    return _psl


def to_ascii(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


@lru_cache(maxsize=4096)
def public_suffix(domain: str) -> str:
    domain = to_ascii(domain)
    return _list().get_tld(domain) or domain.rpartition(".")[2]


@lru_cache(maxsize=4096)
def org_domain(domain: str) -> str:
    """The organisational domain: the public suffix plus one label (or the name itself
    when it is a public suffix)."""
    domain = to_ascii(domain)
    if not domain:
        return ""
    suffix = public_suffix(domain)
    labels = domain.split(".")
    n = len(suffix.split(".")) + 1
    if len(labels) < n:
        return domain
    return ".".join(labels[-n:])


def registrable_label(domain: str) -> str:
    """The label that the owner chose: "stchristophers" in stchristophers.sch.uk."""
    org = org_domain(domain)
    return org.split(".")[0] if org else ""
