"""DKIM (RFC 6376) verification of every signature, with keys fetched asynchronously.

dkimpy verifies; the keys come from the gateway's `Resolver`: every signature's key is
fetched concurrently on the event loop first, then dkimpy checks each signature with a
lookup function that only reads those answers. So a DNS timeout is told apart from a
missing key (temperror vs permerror) and dkimpy never blocks on the network. rsa-sha256
and ed25519-sha256 (RFC 8463, needs PyNaCl) are supported.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import dkim as dkimpy
from dkim.util import InvalidTagValueList, parse_tag_value

from gateway.auth.dns import DnsAnswer, Resolver

# RFC 8601 results for one signature
PASS, FAIL, NEUTRAL, TEMPERROR, PERMERROR = "pass", "fail", "neutral", "temperror", "permerror"
POLICY = "policy"      # verifies, but we do not accept it (a body length limit l=)

_log = logging.getLogger("aupgate.auth.dkim")
_quiet = logging.getLogger("aupgate.auth.dkimpy")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class DkimSignature:
    domain: str        # d=
    selector: str      # s=
    algorithm: str     # a=
    identity: str      # i=
    result: str
    reason: str = ""
    keysize: int = 0
    b: str = ""        # the first characters of b=, for header.b in Authentication-Results

    @property
    def passed(self) -> bool:
        return self.result == PASS

    def to_dict(self) -> dict:
        return {"d": self.domain, "s": self.selector, "a": self.algorithm,
                "result": self.result, "reason": self.reason}


def signature_tags(raw: bytes, header: bytes) -> list[dict[bytes, bytes] | None]:
    """The tag lists of every `header` field in the message, in order (None if unparsable)."""
    try:
        headers, _ = dkimpy.rfc822_parse(raw)
    except Exception:  # noqa: BLE001 - hostile header block
        return []
    out: list[dict[bytes, bytes] | None] = []
    for name, value in headers:
        if name.lower() != header:
            continue
        try:
            out.append(parse_tag_value(value))
        except (InvalidTagValueList, Exception):  # noqa: BLE001
            out.append(None)
    return out


def key_name(tags: dict[bytes, bytes] | None) -> str | None:
    if not tags or b"s" not in tags or b"d" not in tags:
        return None
    try:
        return (tags[b"s"] + b"._domainkey." + tags[b"d"]).decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None


async def fetch_keys(resolver: Resolver, names: set[str]) -> dict[str, DnsAnswer]:
    names = {n for n in names if n}
    answers = await asyncio.gather(*(resolver.txt(n) for n in names))
    return dict(zip(names, answers, strict=True))


def dnsfunc_from(keys: dict[str, DnsAnswer]):
    """A dkimpy `dnsfunc` that answers only from prefetched keys (None when absent)."""

    def dnsfunc(name, timeout=5):
        key = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        answer = keys.get(key.rstrip(".").lower())
        if answer is None or not answer.ok:
            return None
        records = [t for t in answer.txt() if t.strip()]
        if not records:
            return None
        # RFC 6376 3.6.2.2: several TXT records at a key name give undefined results;
        # prefer the one that looks like a DKIM key.
        for t in records:
            if "p=" in t:
                return t.encode()
        return records[0].encode()

    return dnsfunc


class DkimVerifier:
    def __init__(self, resolver: Resolver, max_signatures: int = 10, minkey: int = 1024) -> None:
        self.resolver = resolver
        self.max_signatures = max_signatures
        self.minkey = minkey

    async def verify(self, raw: bytes) -> list[DkimSignature]:
        tags = signature_tags(raw, b"dkim-signature")[: self.max_signatures]
        if not tags:
            return []
        keys = await fetch_keys(self.resolver, {key_name(t) for t in tags} - {None})
        # dkimpy's RSA is pure Python (about 2 ms for a 2048-bit key) and body hashing
        # grows with the message: off the event loop.
        return await asyncio.to_thread(self._verify_all, raw, tags, keys)

    def _verify_all(self, raw, tags, keys) -> list[DkimSignature]:
        return [self._verify_one(raw, idx, t, keys) for idx, t in enumerate(tags)]

    def _verify_one(self, raw, idx, tags, keys) -> DkimSignature:
        if tags is None:
            return DkimSignature("", "", "", "", PERMERROR, "unparsable signature")
        d = _text(tags.get(b"d")).lower()
        s = _text(tags.get(b"s"))
        a = _text(tags.get(b"a")).lower()
        i = _text(tags.get(b"i"))
        b = _text(tags.get(b"b")).replace(" ", "").replace("\t", "")[:12]
        name = key_name(tags)
        answer = keys.get(name) if name else None
        if answer is not None and answer.temperror:
            return DkimSignature(d, s, a, i, TEMPERROR, f"key lookup failed: {answer.error}",
                                 b=b)
        if answer is None or not answer.ok or not any("p=" in t for t in answer.txt()):
            return DkimSignature(d, s, a, i, PERMERROR, f"no key published at {name}", b=b)
        dnsfunc = dnsfunc_from(keys)
        try:
            record = dnsfunc(name)
            if not parse_tag_value(record).get(b"p"):
                return DkimSignature(d, s, a, i, PERMERROR, f"key revoked at {name}", b=b)
            dkimpy.evaluate_pk(name.encode() + b".", record)
        except Exception as e:  # noqa: BLE001 - any unusable key record
            return DkimSignature(d, s, a, i, PERMERROR, f"bad key at {name}: {e}", b=b)
        verifier = dkimpy.DKIM(raw, logger=_quiet, minkey=self.minkey)
        try:
            ok = verifier.verify(idx=idx, dnsfunc=dnsfunc)
        except dkimpy.ValidationError as e:
            return DkimSignature(d, s, a, i, FAIL if "body hash" in str(e) else PERMERROR,
                                 str(e), b=b)
        except (dkimpy.KeyFormatError, dkimpy.UnknownKeyTypeError) as e:
            return DkimSignature(d, s, a, i, PERMERROR, f"bad key: {e}", b=b)
        except dkimpy.DKIMException as e:
            return DkimSignature(d, s, a, i, PERMERROR, str(e), b=b)
        except Exception as e:  # noqa: BLE001 - a dkimpy crash on hostile input is no pass
            _log.warning("dkimpy failed on signature %d: %r", idx, e)
            return DkimSignature(d, s, a, i, PERMERROR, f"verifier error: {e}", b=b)
        if ok and b"l" in tags:
            covered, total = _body_coverage(verifier, tags)
            if covered < total:
                # RFC 6376 8.2: content after l= is unsigned; an attacker can append.
                return DkimSignature(d, s, a, i, POLICY, f"signature covers only {covered} of "
                                     f"{total} body bytes (l=)", verifier.keysize, b=b)
        if ok:
            return DkimSignature(d, s, a, i, PASS, "", verifier.keysize, b=b)
        if verifier.keysize and verifier.keysize < self.minkey:
            return DkimSignature(d, s, a, i, PERMERROR, f"key too small ({verifier.keysize})",
                                 b=b)
        return DkimSignature(d, s, a, i, FAIL, "signature did not verify", verifier.keysize, b=b)


def _body_coverage(verifier, tags) -> tuple[int, int]:
    from dkim.canonicalization import CanonicalizationPolicy

    try:
        policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple"))
        total = len(policy.canonicalize_body(verifier.body))
        return int(tags[b"l"]), total
    except Exception:  # noqa: BLE001
        return 0, 1


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace").strip() if value else ""
