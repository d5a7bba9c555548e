"""Text normalisation against evasion, and against the quirks of where text came from.

`normalise(text)` returns lower-case text in which
- Unicode confusables (Cyrillic/Greek look-alikes, full-width and styled letters,
  accents, zero-width characters) are plain Latin letters;
- masked words (`f*ck`, `sh#t`, `n***a`) are resolved against the lexicon;
- s p a c e d and d.o.t.t.e.d letters are joined;
- leetspeak inside words (`sh1t`, `b!tch`, `@ss`, `h8`) is decoded, while numbers,
  times and units (`3pm`, `2nd`, `100mb`) are left alone;
- r3peated letters (`fuuuuck`, `soooo`) are collapsed;
- platform artefacts (@mentions, `@USER`, `[URL]`, links, `RT`, `#`, HTML entities)
  are removed, so that a model cannot learn which platform a text came from.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import Any

from classifiers.lexicon import (
    DEHUMANISING,
    IDENTITY_TERMS,
    INSULTS,
    MASKABLE,
    SEXUAL,
    SLURS,
    THREAT,
)

_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y", "μ": "u",
    # Latin look-alikes and symbols
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ß": "ss", "æ": "ae", "œ": "oe",
    "ƒ": "f", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h",
    "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ǫ": "q",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
}
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l", "¡": "i"}
_LEET_WORDS = {"h8": "hate", "h8ers": "haters", "h8er": "hater", "h8te": "hate",
               "sk8": "skate", "gr8": "great", "l8r": "later", "m8": "mate", "b4": "before",
               "2day": "today", "4ever": "forever", "u": "you", "ur": "your", "r": "are",
               "ppl": "people", "stfu": "shut the fuck up", "gtfo": "get the fuck out",
               "kys": "kill yourself", "fk": "fuck", "fkn": "fucking", "fkin": "fucking",
               "fuk": "fuck", "fuking": "fucking", "phuck": "fuck", "azz": "ass",
               "biatch": "bitch", "sht": "shit"}
_UNIT = re.compile(r"^\d+(?:st|nd|rd|th|s|am|pm|k|m|km|kg|g|mb|gb|kb|tb|px|x|d|p|v|hz|ml|l|"
                   r"mins?|hrs?|yrs?|ft|in|cm|mm)?$")
_WORD_NUMBER = re.compile(r"[a-z]+\d+")           # mp3, win10
_NUMBER = re.compile(r"\d[\d,.:]*")               # 12:30, 1,000.5

# Each artefact pattern runs only when a literal it needs is in the text: a regex scan of
# a 5 KB mail costs ~0.05 ms even when nothing matches, a substring test a microsecond.
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.I)
_EMAIL = re.compile(r"\b\S+@\S+\.\w+\b")
_PLACEHOLDERS = re.compile(r"\[(?:url|user|link)\]|\b(?:url|user)\b(?=\s|$)", re.I)
_MENTION = re.compile(r"(?<![\w.])@(\w+)")
# "rt" alone or before a colon; the literal first lets re skip to each "rt" (a pattern
# opening with a lookbehind is tried at every character: ten times the cost)
_RT = re.compile(r"rt(?=[\s:])(?<!\Srt)", re.I)
# On lower-case text a pattern without re.I matches what it matches with it, but that
# re.I also takes "ı" for i and "ſ" for s (of all code points, only these two: see the
# tests), and re.I costs from a third more to tenfold
_LOWER_TWIN = {pattern: re.compile(pattern.pattern) for pattern in (_LINK, _PLACEHOLDERS, _RT)}
_DOTLESS_I_LONG_S = ("\u0131", "\u017f")
_HASH = re.compile(r"(?<!\w)#(?=\w)")
_REPEAT3 = re.compile(r"(.)\1\1+", re.S)
_SPACED = re.compile(r"(?<![\w*])((?:[a-z0-9@$!*][ .\-_,/]){2,}[a-z0-9@$!*])(?![\w*])")
# Every spaced run holds a separator, a letter and a separator from its second character
# on; this pattern, having no lookbehind, scans 5 KB in a few microseconds where _SPACED
# costs a tenth of a millisecond (see _join_spaced_runs).
_SPACED_HINT = re.compile(r"[ .\-_,/][a-z0-9@$!*][ .\-_,/]")
_LEAD, _TRAIL = r"[^\w@$!|+€£¡*#]", r"[^\w*#]"     # the punctuation before and after a word
_WORDCHARS = re.compile(f"^({_LEAD}*)(.*?)({_TRAIL}*)$")
# The ASCII characters of each: an ASCII token is split by str.strip, several times faster
# than the lazy pattern
_LEAD_ASCII = "".join(c for c in map(chr, range(128)) if re.fullmatch(_LEAD, c))
_TRAIL_ASCII = "".join(c for c in map(chr, range(128)) if re.fullmatch(_TRAIL, c))
_MASKCHARS = set("*#%_")


_CONFUSABLE_TABLE = {ord(k): v for k, v in _CONFUSABLES.items()}


def fold_confusables(text: str) -> str:
    """`text` lower-cased, with confusables folded to plain letters."""
    # Every character folding changes is non-ASCII, and mail is mostly ASCII (an Outlook
    # apostrophe makes a message non-ASCII): folding each run of non-ASCII characters on
    # its own, in one scan, costs a fifth of folding the whole text step by step, and
    # gives the same text (tests/classifiers/test_classifier_fast_paths.py)
    if not text.isascii():
        text = NON_ASCII.sub(_fold_match, text)
    return text.lower()


NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_RUN_CACHED = 32        # longer runs are rare, and caching them would let mail fill memory


def _fold_match(match: re.Match) -> str:
    run = match.group(0)
    return _fold_short_run(run) if len(run) <= _RUN_CACHED else _fold_run(run)


def _fold_run(run: str) -> str:
    run = unicodedata.normalize("NFKC", run.translate(_ZERO_WIDTH))
    run = run.translate(_CONFUSABLE_TABLE)
    if not run.isascii():       # accents and marks: strip them, then fold again
        run = _strip_marks(run).lower().translate(_CONFUSABLE_TABLE)
    return run


_fold_short_run = lru_cache(maxsize=4096)(_fold_run)     # mojibake and quotes repeat


def _strip_marks(run: str) -> str:
    decomposed = unicodedata.normalize("NFD", run)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _mention(match: re.Match) -> str:
    word = "a" + match.group(1).lower()          # "@ss" is leet, "@bob" is a mention
    return word if word in _KNOWN else " "


def _sub_lines(pattern: re.Pattern, repl: Any, text: str, *needles: str,
               is_lower: bool = False) -> str:
    """`pattern.sub(repl, text)` run only on the lines holding one of `needles` (case
    folded): for patterns that never span a line break and need a needle, the same result
    for a fraction of the scanning. `is_lower`: `text` is known to be lower-case."""
    lower = text if is_lower else text.lower()
    if len(lower) != len(text):         # lower-casing moved offsets: scan it all
        return pattern.sub(repl, text)
    lines: list[tuple[int, int]] = []   # (start, end) of each line holding a needle
    for needle in needles:
        at = lower.find(needle)
        while at >= 0:
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            lines.append((text.rfind("\n", 0, at) + 1, end))
            at = lower.find(needle, end)
    out, done = [], 0
    for start, end in sorted(set(lines)):
        out += [text[done:start], pattern.sub(repl, text[start:end])]
        done = end
    out.append(text[done:])
    return "".join(out)


def strip_artefacts(text: str) -> str:
    if "&" in text:     # unescape gives back text without one as it is: skip two calls
        text = html.unescape(html.unescape(text))
    # ASCII text is lowered by a table (a twelfth of what islower() costs: it asks each
    # character's case); other lower-case text (as normalise passes) is not lowered
    # again: for every character islower() says of, lower() is itself, so the two agree
    lower = text.lower() if text.isascii() or not text.islower() else text
    # normalise passes lower-case text, which stays so unless an entity was upper-case
    # ("&#65;"); each substitution below puts in only spaces and lower-case words
    is_lower = lower == text
    twin = _LOWER_TWIN if is_lower and not any(c in text for c in _DOTLESS_I_LONG_S) else {}
    if "@" in text:
        text = _sub_lines(_MENTION, _mention, text, "@", is_lower=is_lower)
        text = _sub_lines(_EMAIL, " ", text, "@", is_lower=is_lower)
    if "http" in lower or "www." in lower:
        text = _sub_lines(twin.get(_LINK, _LINK), " ", text, "http", "www.", is_lower=is_lower)
    if "url" in lower or "user" in lower or "link]" in lower:
        text = _sub_lines(twin.get(_PLACEHOLDERS, _PLACEHOLDERS), " ", text, "url", "user",
                          "link]", is_lower=is_lower)
    if "rt" in lower:   # most sentences of a long mail have none: skip the scan
        text = twin.get(_RT, _RT).sub("", text)
    return _sub_lines(_HASH, "", text, "#", is_lower=is_lower) if "#" in text else text


def _collapse_repeat(match: re.Match) -> str:
    # masks (f***) keep their stars and hashes; fuuuuck and soooo lose the repeats
    return match.group(0) if match.group(1) in "*#" else match.group(1)


_KNOWN = frozenset(MASKABLE) | frozenset(THREAT) | frozenset(SEXUAL) | frozenset(
    DEHUMANISING) | frozenset(IDENTITY_TERMS) | frozenset(SLURS) | frozenset(INSULTS)


def _in_order(pairs) -> dict:
    """key -> the MASKABLE words with that key, in MASKABLE's order (the first wins)."""
    out: dict = {}
    for key, word in pairs:
        out.setdefault(key, []).append(word)
    return out


_MASKABLE_BY_LEN = _in_order((len(w), w) for w in MASKABLE)
_MASKABLE_BY_ENDS = _in_order(((w[0], w[-1]), w) for w in MASKABLE)
_MASKABLE_BY_FIRST_LEN = _in_order(((w[0], len(w)), w) for w in MASKABLE)


# no masked core longer than this can stand for a lexicon word (each way below allows
# one character more at most); a longer one is not looked at, nor cached
_UNMASK_LONGEST = max(map(len, MASKABLE)) + 1


def _unmask(core: str) -> str | None:
    """`f*ck` -> `fuck`: a word from the lexicon of the same length whose letters agree."""
    return _unmask_short(core) if len(core) <= _UNMASK_LONGEST else None


@lru_cache(maxsize=4096)
def _unmask_short(core: str) -> str | None:
    if _MASKCHARS.isdisjoint(core) or not any(map(str.isalpha, core)):
        return None
    for word in _MASKABLE_BY_LEN.get(len(core), ()):
        if all(c == w or c in _MASKCHARS for c, w in zip(core, word, strict=True)):
            return word
    # f**k with a different count of stars: same first and last letter, in the lexicon
    if core[0].isalpha() and core[-1].isalpha():
        for word in _MASKABLE_BY_ENDS.get((core[0], core[-1]), ()):
            if abs(len(word) - len(core)) <= 1:
                return word
    if core[0].isalpha() and len(core) >= 3 and _MASKCHARS.issuperset(core[1:]):
        words = _MASKABLE_BY_FIRST_LEN.get((core[0], len(core)))        # f*** -> fuck
        if words:
            return words[0]
    return None


def _deleet(core: str) -> str:
    if core in _LEET_WORDS:
        return _LEET_WORDS[core]
    if _LEET.keys().isdisjoint(core) or not any(map(str.isalpha, core)):
        return core
    if _UNIT.match(core) or _WORD_NUMBER.fullmatch(core) or _NUMBER.fullmatch(core):
        return core   # 3pm, 2nd, mp3, win10, 12:30
    digits = sum(c.isdigit() for c in core)
    if digits > sum(c.isalpha() for c in core) or len(core) > 24:
        return core   # dates, times, serial numbers, hashes
    out = "".join(_LEET.get(c, c) for c in core)
    if out not in _KNOWN and any(c in "1|!" for c in core):
        alt = "".join("l" if c in "1|!" else _LEET.get(c, c) for c in core)
        if alt in _KNOWN:
            return alt
    return out


_DOUBLE = re.compile(r"(.)\1")


def _first_group(match: re.Match) -> str:
    return match.group(1)       # a "\1" template is expanded in Python: three times slower


def _dedouble(word: str) -> str:
    """`fuuck`, `shiit` -> the lexicon word when collapsing a doubled letter gives one."""
    if word in _KNOWN or len(word) < 4 or not _DOUBLE.search(word):
        return word
    single = _DOUBLE.sub(_first_group, word)
    return single if single in _KNOWN else word


def _split_word(token: str) -> tuple[str, str, str]:
    """(lead, core, trail): the punctuation around a word, as _WORDCHARS splits it."""
    if token.isascii():
        rest = token.lstrip(_LEAD_ASCII)
        core = rest.rstrip(_TRAIL_ASCII)
        return token[:len(token) - len(rest)], core, rest[len(core):]
    return _WORDCHARS.match(token).groups()     # the pattern matches anything


def _fix_token(token: str) -> str:
    if token.isascii() and token.isalpha():     # most words: no mask, leet or punctuation
        return _dedouble(_LEET_WORDS.get(token, token))
    lead, core, trail = _split_word(token)
    if not core:
        return token
    if core.isascii() and core.isalpha():       # a plain word in punctuation: "(word),"
        return f"{lead}{_dedouble(_LEET_WORDS.get(core, core))}{trail}"
    unmasked = _unmask(core)
    if unmasked is not None:
        return f"{lead}{unmasked}{trail}"
    if core.endswith("!"):     # "hello!" is punctuation, not leet
        stripped = core.rstrip("!")
        trail = core[len(stripped):] + trail
        core = stripped
    core = _deleet(core)
    core = _dedouble(core)
    return f"{lead}{core}{trail}"


def _join_spaced_runs(text: str) -> str:
    """`_SPACED.sub` joining each run (`_join_run`), with _SPACED tried only where a run
    could start: one character before each _SPACED_HINT."""
    out, done = [], 0
    hint = _SPACED_HINT.search(text, 1)
    while hint:
        start = hint.start() - 1
        run = _SPACED.match(text, start)        # its lookbehind still sees text[start - 1]
        if run:
            out += [text[done:start], _join_run(run.group(1))]
            done = run.end()
            hint = _SPACED_HINT.search(text, done + 1)
        else:       # the next hint can begin no earlier than this one's last separator
            hint = _SPACED_HINT.search(text, start + 3)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _join_run(run: str) -> str:
    """A spaced run (`_SPACED`'s group) as the word it spells."""
    letters = re.sub(r"[ .\-_,/]", "", run)
    if sum(c.isalpha() for c in letters) < 2:
        return run                # 3.1.4, 10.0.0.1, 1 2 3: numbers, not spelling
    if letters not in _KNOWN and letters[0] in "ai" and letters[1:] in _KNOWN:
        return f"{letters[0]} {letters[1:]}"      # "a f u c k i n g" is "a fucking"
    return letters


# token -> fixed token. A plain dict read through `map(dict.get)` costs a third of an
# lru_cache hit, and a mail's ~800 tokens are mostly ones seen before; when full it is
# emptied, and a token another thread's clearing loses is simply fixed again. Only tokens
# of up to _FIXED_LONGEST characters are kept: a part may hold a token of 200,000, and
# 65,536 of those would be gigabytes.
_FIXED: dict[str, str] = {}
_FIXED_MAX = 65536
_FIXED_LONGEST = 64


def _fix_tokens(tokens: list[str]) -> list[str]:
    fixed = list(map(_FIXED.get, tokens))
    if None not in fixed:
        return fixed
    # a new word is often repeated in a mail: fix it once
    new = {token: _fix_token(token) for token in set(tokens).difference(_FIXED)}
    if len(_FIXED) + len(new) > _FIXED_MAX:
        _FIXED.clear()
    _FIXED.update(item for item in new.items() if len(item[0]) <= _FIXED_LONGEST)
    # a token neither known at first nor new was added by another thread meanwhile
    return [done if done is not None else new[token] if token in new else _fix_token(token)
            for token, done in zip(tokens, fixed, strict=True)]


def _tidy(text: str) -> str:
    """The word-level steps: repeats collapsed, spaced runs joined, each word fixed."""
    text = _REPEAT3.sub(_collapse_repeat, text)
    text = _join_spaced_runs(text)
    return " ".join(_fix_tokens(text.split()))


try:        # the same steps compiled
    from classifiers._normalise import Tidier
except ImportError:     # not built: pip install -e . builds it
    Tidier = None


# An ASCII word holding none of _RARE_ASCII, nor a leet digit beside a letter, is only
# looked up in _LEET_WORDS and de-doubled by _fix_token, as a plain word is ("well-known",
# "and/or", "2day", "12:30": _deleet leaves a number alone): the compiled steps do that
# themselves, and call _fix_token for the rest
_LEET_DIGITS = "".join(sorted(c for c in _LEET if c.isascii() and c.isdigit()))
_RARE_ASCII = "".join(sorted(c for c in _MASKCHARS | _LEET.keys()
                             if c.isascii() and c not in _LEET_DIGITS))


def compiled_tidy(fix_token=_fix_token, remembered=_FIXED):
    """`_tidy` compiled, or None where the extension is not built. It calls `fix_token`
    for words with masks, leet or non-ASCII characters in them and remembers what it gave
    in `remembered`, as `_fix_tokens` does."""
    if Tidier is None:
        return None
    return Tidier(known=_KNOWN, leet_words=_LEET_WORDS, lead=_LEAD_ASCII, trail=_TRAIL_ASCII,
                  rare=_RARE_ASCII, leet_digits=_LEET_DIGITS, fix_token=fix_token,
                  join_run=_join_run, remembered=remembered, remembered_max=_FIXED_MAX,
                  remembered_longest=_FIXED_LONGEST)


_tidy_compiled = compiled_tidy()


def normalise(text: str) -> str:
    """`text` as the models read it: lower-case throughout (the vectorizers rely on it),
    confusables folded, artefacts stripped, words tidied."""
    folded = fold_confusables(text)
    text = strip_artefacts(folded)
    if "&" in folded:       # an entity decoded may be a capital ("&#65;", "&Aacute;")
        text = text.lower()
    return _tidy(text) if _tidy_compiled is None else _tidy_compiled(text)
