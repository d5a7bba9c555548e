"""Impersonation of the trust: staff display names, lookalike domains, Reply-To tricks.

Pure functions over names and domains; `gateway.checks.impersonation` turns them into
findings. Matching is deliberately narrow so that ordinary mail does not fire:

* a display name matches a member of staff when it carries their first AND last name
  (in any order, "Last, First" too, titles and punctuation ignored, confusable letters
  folded), their surname with a one-letter slip ("Sarah Jonhson"), their initial and
  surname ("S. Johnson"), or a title and their surname ("Mrs Johnson"). A colleague who
  only shares a first name ("Sarah Jones") does not match;
* a domain looks like one of the trust's when its owner-chosen label is the same under
  another suffix (other TLD), folds to the same skeleton (confusable characters,
  punycode), is within a small edit distance, or contains the whole label with words
  added ("stchristophers-payroll"). Sharing one word ("christophers-garage") is not
  enough.
"""

from __future__ import annotations

import email.header
import email.utils
import re
import unicodedata
from dataclasses import dataclass

import dkim as dkimpy

from gateway.auth.psl import org_domain, public_suffix, registrable_label, to_ascii

TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "rev",
          "revd", "fr", "sr", "master"}

# Letters that render like Latin ones (Cyrillic, Greek, a few symbols), folded to Latin.
_CONFUSABLE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w",
    "к": "k", "м": "m", "н": "h", "т": "t", "в": "b", "ь": "b", "ѵ": "v", "ɩ": "i",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "κ": "k", "ι": "i", "ε": "e",
    "χ": "x", "υ": "u", "ϲ": "c", "ı": "i", "ł": "l", "ø": "o", "ß": "ss", "æ": "ae",
    "œ": "oe", "ð": "d", "þ": "p", "ſ": "s", "ℓ": "l",
})
# Sequences that read alike in a domain name: compare skeletons, not spellings.
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"),
              ("|", "l"), ("5", "s"), ("$", "s"), ("@", "a"))

FREEMAIL = {"gmail.com", "googlemail.com", "hotmail.com", "hotmail.co.uk", "outlook.com",
            "live.com", "live.co.uk", "yahoo.com", "yahoo.co.uk", "icloud.com", "me.com",
            "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.co.uk", "btinternet.com",
            "sky.com", "virginmedia.com", "mail.com", "zoho.com", "yandex.com"}


def fold(text: str) -> str:
    """Lower case, accents dropped, confusable letters turned into Latin ones."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_CONFUSABLE)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).translate(_CONFUSABLE)


# -- names ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameTokens:
    tokens: tuple[str, ...]
    title: bool


def name_tokens(display_name: str) -> NameTokens:
    text = fold(display_name)
    text = re.sub(r"\S+@\S+", " ", text)             # addresses are handled apart
    text = re.sub(r"\(.*?\)|\[.*?\]", " ", text)      # "(Head of Year 7)"
    if text.count(",") == 1:                           # "Johnson, Sarah"
        last, first = text.split(",")
        text = f"{first} {last}"
    words = [w for w in re.split(r"[^a-z0-9']+", text.replace("'", "")) if w]
    title = bool(words) and words[0] in TITLES
    return NameTokens(tuple(w for w in words if w not in TITLES), title)


@dataclass(frozen=True)
class StaffName:
    address: str
    name: str
    first: str
    last: str


@dataclass(frozen=True)
class NameMatch:
    address: str
    name: str
    kind: str          # full, fuzzy, initial, title_surname, address_in_name


class StaffIndex:
    def __init__(self, staff: list[tuple[str, str]]) -> None:
        """`staff`: (address, display name) of every member of staff."""
        self.people: list[StaffName] = []
        for address, name in staff:
            t = name_tokens(name or "").tokens
            if len(t) >= 2:
                self.people.append(StaffName(address.lower(), name, t[0], t[-1]))
        self.addresses = {address.lower() for address, _ in staff}

    def match(self, display_name: str, local_domains: set[str]) -> list[NameMatch]:
        out: list[NameMatch] = []
        for addr in re.findall(r"[^\s<>\"'(),;]+@[^\s<>\"'(),;]+", display_name):
            domain = addr.rpartition("@")[2].lower().rstrip(".")
            if any(domain == d or domain.endswith("." + d) for d in local_domains):
                out.append(NameMatch(addr.lower(), display_name, "address_in_name"))
        nt = name_tokens(display_name)
        words = set(nt.tokens)
        if not words:
            return out
        for p in self.people:
            kind = ""
            # First and last name, with at most one other word ("Sarah J Johnson"):
            # "St Mary's School Office" is not the "School Office" mailbox.
            if p.first in words and p.last in words and len(words - {p.first, p.last}) <= 1:
                kind = "full"
            elif len(nt.tokens) == 2 and nt.tokens[0] == p.first and len(p.last) >= 5 \
                    and len(nt.tokens[1]) >= 5 and distance(nt.tokens[1], p.last) == 1:
                kind = "fuzzy"
            elif len(nt.tokens) == 2 and nt.tokens[1] == p.last and len(nt.tokens[0]) == 1 \
                    and nt.tokens[0] == p.first[0]:
                kind = "initial"
            elif nt.title and nt.tokens == (p.last,):
                kind = "title_surname"
            if kind:
                out.append(NameMatch(p.address, p.name, kind))
        return out


# -- domains ------------------------------------------------------------------------------


def skeleton(label: str) -> str:
    s = fold(label)
    for a, b in _SEQUENCES:
        s = s.replace(a, b)
    return re.sub(r"[^a-z0-9]", "", s)


def distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment), cut off above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _unicode(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


@dataclass(frozen=True)
class Lookalike:
    domain: str
    protected: str
    kind: str          # other_tld, confusable, edit_distance, added_words, embedded
    distance: int = 0


def lookalike(domain: str, protected: list[str], min_label: int = 5) -> Lookalike | None:
    domain = to_ascii(domain)
    if not domain or "." not in domain:
        return None
    for p in protected:
        p = to_ascii(p)
        if org_domain(domain) == org_domain(p):
            return None                                  # one of ours
    unicode_domain = _unicode(domain)
    label = registrable_label(domain)
    ulabel = _unicode(label) if label.startswith("xn--") else label
    suffix = public_suffix(domain)
    for p in protected:
        p = to_ascii(p)
        plabel = registrable_label(p)
        if not plabel:
            continue
        psuffix = public_suffix(p)
        if label == plabel and suffix != psuffix:
            return Lookalike(domain, p, "other_tld")
        sk, psk = skeleton(ulabel), skeleton(plabel)
        if sk == psk:
            return Lookalike(domain, p, "confusable")
        if len(psk) >= min_label:
            limit = 1 if len(psk) < 9 else 2
            d = distance(sk, psk, limit)
            if d <= limit:
                return Lookalike(domain, p, "edit_distance", d)
            if psk in sk:
                return Lookalike(domain, p, "added_words")
            # our name as a label further left: stchristophers.example.attacker.net
            left = unicode_domain[: -len(org_domain(domain))].split(".") \
                if unicode_domain.endswith(org_domain(domain)) else []
            if any(skeleton(x) == psk for x in left if x):
                return Lookalike(domain, p, "embedded")
    return None


def is_local(address_or_domain: str, local_domains: set[str]) -> bool:
    domain = address_or_domain.rpartition("@")[2].lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in local_domains)


def raw_header_values(raw: bytes, name: str) -> list[str]:
    """Every `name` field straight from the bytes (UTF-8 allowed, as under SMTPUTF8),
    unfolded, RFC 2047 words decoded."""
    try:
        headers, _ = dkimpy.rfc822_parse(raw)
    except Exception:  # noqa: BLE001
        return []
    out = []
    for key, value in headers:
        if key.lower() != name.lower().encode():
            continue
        text = " ".join(value.decode("utf-8", "replace").split())
        out.append(text)
    return out


def decode_words(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except Exception:  # noqa: BLE001
        return text


def from_display_name(message) -> str:
    """The From display name; read from the bytes when the parsed view lost characters
    (raw UTF-8 in a header), so that a homoglyph name cannot hide behind U+FFFD."""
    name = message.from_parsed[0]
    if "\ufffd" not in name:
        return name
    values = raw_header_values(message.raw, "From")
    if not values:
        return name
    display, _ = email.utils.parseaddr(values[0])
    return decode_words(display).strip() or name


def from_domains(raw: bytes) -> set[str]:
    """The domains of every author address in every From field."""
    addresses = email.utils.getaddresses(raw_header_values(raw, "From"))
    return {a.rpartition("@")[2].lower().rstrip(".") for _, a in addresses if "@" in a}
