"""From text to the features the linear models read.

Two views of the normalised text:
- the *severity view* hides the names of groups (Muslim, Jewish, gay, disabled, women, …)
  behind one placeholder, `xidx`, and the placeholder alone carries no weight: only what
  is said about a group ("xidx are vermin", "kill all xidx") can. Mentioning a group is
  not evidence of abuse; an RE lesson about Islam scores as a lesson about the weather.
- the *kind view* keeps the names: once text is judged offensive, which group it targets
  decides whether it is racist, homophobic or ridicules religion or disability.
Slurs are not names of groups and stay visible in both.
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np

from classifiers.lexicon import (
    DEHUMANISING,
    IDENTITY_TERMS,
    INSULTS,
    NEGATIVE_ATTRIBUTES,
    PROFANITY,
    SEXUAL,
    SLURS,
    THREAT,
)
from classifiers.normalise import NON_ASCII, normalise

try:        # whole-text scans compiled; the Python below gives the same answers
    from classifiers._scan import Needles, Structures, letter_counts, word_list, word_spans
except ImportError:     # not built: pip install -e . builds it
    Needles = Structures = letter_counts = word_list = word_spans = None

PLACEHOLDER = "xidx"
_WORD = re.compile(r"[a-z0-9']+")
_LETTERS = re.compile(r"[^\W\d_]")
_PROFANITY = frozenset(PROFANITY)
_SEXUAL = frozenset(SEXUAL)
_THREAT = frozenset(THREAT)
_DEHUM = frozenset(DEHUMANISING)
_NEGATIVE = frozenset(NEGATIVE_ATTRIBUTES)
_SECOND = frozenset({"you", "your", "youre", "you're", "u", "ur", "yourself"})
# A person spoken to or of: an insult near one is aimed at someone
_PERSON = _SECOND | frozenset({"he", "she", "him", "her", "his", "he's", "she's", "hes",
                               "shes", "yourselves", "ya", "thou"})
_MULTIWORD = re.compile(r"\b(?:mental(?:ly)? ill(?:ness)?|down'?s syndrome|learning disab\w+|"
                        r"people of colou?r|asylum seekers?)\b")
# Counter-speech and reporting: quoting or condemning abuse is not abuse.
_COUNTER = re.compile(
    r"\b(?:saying|calling|called|claims? that|claiming|to say that|it'?s (?:wrong|not ok)|"
    r"is (?:wrong|unacceptable|not ok|not okay|never ok)|(?:not|never) acceptable|"
    r"no place|(?:will|must) not be tolerated|hate speech|condemn\w*|report(?:ed|ing)?|"
    r"challenge\w*|stop (?:saying|calling)|(?:is|was|are|sounds) (?:racist|homophobic|"
    r"sexist|bigoted|hateful|offensive)|untrue|lies about|disgusting (?:comments?|posts?|"
    r"things?)|stand(?:ing)? up (?:for|to)|against (?:racism|homophobia|hate))\b")
_NEGATION = frozenset({"not", "never", "no", "nothing", "aren't", "isn't", "arent", "isnt",
                       "don't", "dont", "doesn't", "doesnt", "nobody", "shouldn't", "shouldnt"})
_HATE_VERBS = frozenset({"hate", "hates", "despise", "loathe", "detest", "abhor", "stand",
                         "sick", "disgust", "disgusted", "fear"})
_GENDER = frozenset(w for w, k in IDENTITY_TERMS.items() if k == "demeaning_individuals")
_PROTECTED = frozenset(w for w in IDENTITY_TERMS if w not in _GENDER) | frozenset(SLURS)
_AS_GRP = dict.fromkeys(_PROTECTED, "grp")      # how _EXCLUSION sees a protected group
_EXCLUSION = re.compile(
    r"\bgrp (?:should|must|need to|ought to|deserve to|will) (?:all |just )?(?:be |get |go )?"
    r"(?:banned|deported|removed|killed|shot|hanged|hung|gassed|locked up|sent back|kicked out|"
    r"eradicated|wiped out|exterminated|burned|die|back)|"
    r"\b(?:no|ban all|ban|deport all|deport|kill all|kill the|get rid of(?: all| the)?|gas (?:all|the)|"
    r"hang (?:all|the)|shoot (?:all|the)|exterminate (?:all|the)?|round up(?: all| the)?) grp|"
    r"\bgrp (?:don'?t|do not|doesn'?t) belong|\bgo back to (?:your|their) (?:own )?country|"
    r"\bsend (?:them|grp) back|\bgrp (?:are|is) (?:a |an )?(?:disease|plague|cancer|problem|"
    r"threat|invasion)")
LEX_NAMES = ("profanity", "slur", "sexual", "threat", "dehumanising", "profanity_at_you",
             "threat_at_you", "group_attack", "group_attack_negated", "gender_attack",
             "exclusion", "counter_speech", "insult", "insult_at_person", "sexual_at_person",
             "shouting")


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")     # what _WORD matches


# Every phrase _MULTIWORD matches holds one of these: a substring test is a
# microsecond, the regex scan of a 5 KB mail a tenth of a millisecond.
_MULTIWORD_NEEDLES = ("mental", "syndrome", "learning disab", "people of colo", "asylum seeker")
# Likewise every cue _COUNTER matches holds one of these.
_COUNTER_NEEDLES = ("say", "call", "claim", "wrong", "not ok", "never ok", "acceptable",
                    "no place", "tolerated", "hate speech", "condemn", "report", "challenge",
                    "racist", "homophobic", "sexist", "bigoted", "hateful", "offensive",
                    "untrue", "lies about", "disgusting", "stand", "against")


# What _WORD matches, as bytes kept (all else becomes a space): on ASCII text,
# bytes.translate and split find the same words in half the time of findall.
_WORD_BYTES = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789'" else 32
                    for c in range(256))


def words_of(norm: str) -> list[str]:
    if word_list is not None:
        return word_list(norm)
    if norm.isascii():
        return norm.encode("ascii").translate(_WORD_BYTES).decode("ascii").split()
    return _WORD.findall(norm)


# Where a counter-speech cue can lie around one of its needles: no cue starts more than
# 12 characters before its needle ("must not be tolerated") or ends more than 11 after
# the needle's end ("against homophobia"), bar the open-ended condemn\w* and
# challenge\w*, which end with their word.
_CUE_LEAD, _CUE_TRAIL = 16, 16
# Every phrase _EXCLUSION matches (on text with groups as "grp") holds one of these, and
# starts at most 16 characters before it ("exterminate the grp") and ends at most 33
# after its end ("grp deserve to just get exterminated"); nothing in it is open-ended.
_EXCLUSION_NEEDLES = ("grp", "go back to", "send them back")
_EXCLUSION_LEAD, _EXCLUSION_TRAIL = 20, 40
_COMPILED_NEEDLES = {} if Needles is None else {
    needles: Needles(needles) for needles in (_COUNTER_NEEDLES, _EXCLUSION_NEEDLES)}


def needle_spans(text: str, needles: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of every needle in `text`, overlaps included,
    sorted. Compiled for the needle sets below (one scan, where str.find is one a needle)."""
    compiled = _COMPILED_NEEDLES.get(needles)
    if compiled is not None:
        return compiled.spans(text)
    spans = []
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            spans.append((at, at + len(needle)))
            at = text.find(needle, at + 1)
    return sorted(spans)


def count_near(pattern: re.Pattern, text: str, needles: tuple[str, ...], lead: int,
               trail: int) -> int:
    """`len(pattern.findall(text))` for a pattern every match of which holds a needle,
    starts at most `lead` characters before it and ends at most `trail` after its end:
    only the stretches of whole words around each needle are scanned, where the regex
    over a 5 KB mail costs a tenth of a millisecond or more."""
    spans = needle_spans(text, needles)
    if not spans:
        return 0
    count, lo, hi = 0, 0, -1
    for start, end in spans:
        first = text.rfind(" ", 0, max(0, start - lead)) + 1      # a word's start
        last = text.find(" ", end + trail)                          # a word's end
        last = len(text) if last < 0 else last
        if first > hi:          # a new stretch: count the one before
            count += len(pattern.findall(text, lo, hi)) if hi >= 0 else 0
            lo, hi = first, last
        else:
            hi = max(hi, last)
    return count + len(pattern.findall(text, lo, hi))


def count_counter_cues(norm: str) -> int:
    """`len(_COUNTER.findall(norm))`."""
    return count_near(_COUNTER, norm, _COUNTER_NEEDLES, _CUE_LEAD, _CUE_TRAIL)


def count_exclusions(words: list[str], protected: set[str] | None = None) -> int:
    """`len(_EXCLUSION.findall(...))` on the words with each protected group as "grp".
    `protected`: the protected groups among `words`, where the caller knows them."""
    if protected is None:
        protected = _AS_GRP.keys() & words
    # each whole word replaced in the joined words, twice over: a replacement takes the
    # space after a word, so a second pass finds the word repeated right after it
    grp = f" {' '.join(words)} "
    for word in protected:
        grp = grp.replace(f" {word} ", " grp ").replace(f" {word} ", " grp ")
    return count_near(_EXCLUSION, grp[1:-1], _EXCLUSION_NEEDLES, _EXCLUSION_LEAD,
                      _EXCLUSION_TRAIL)


def mask_groups(norm: str, words: list[str] | None = None,
                named: list[str] | None = None) -> str:
    """The severity view. `words` (`words_of(norm)`) saves finding them twice, and `named`
    (the names of groups among them, as `word_structures` gives) saves looking for them."""
    if any(n in norm for n in _MULTIWORD_NEEDLES):
        masked = _MULTIWORD.sub(PLACEHOLDER, norm)
        if masked != norm:
            norm, words, named = masked, None, None
    if named is None:
        named = IDENTITY_TERMS.keys() & (words_of(norm) if words is None else words)
    if not named:
        return norm         # most short text names no group
    out, done = [], 0
    for at, end in group_spans(norm, named):
        out += [norm[done:at], PLACEHOLDER]
        done = end
    out.append(norm[done:])
    return "".join(out)


def group_spans(norm: str, named) -> list[tuple[int, int]]:
    """(start, end) of each whole-word occurrence of the names in `named`, in order."""
    # each name once: a word is compared with each name, and a hostile mail may name one
    # tens of thousands of times
    named = set(named)
    if word_spans is not None:
        return word_spans(norm, named)
    # by str.find: three in four mails name a group ("man", "old", "church"), and
    # splitting a 5 KB mail into words and joining them again costs three times as much
    spans = []
    for term in named:
        at = norm.find(term)
        while at >= 0:
            end = at + len(term)
            if norm[at - 1:at] not in _WORD_CHARS and norm[end:end + 1] not in _WORD_CHARS:
                spans.append((at, end))
            at = norm.find(term, at + 1)
    return sorted(spans)


def char_view(masked: str) -> str:
    return masked.replace(PLACEHOLDER, " ")


# What each lexicon word is, as bits: most words of a mail are none of these, so the
# counting below visits only the few that are.
# (_NAMED, the names of groups, is for masking them: it counts nothing.)
_BITS = (_PROF, _SLUR, _SEX, _THR, _DEH, _ATTACK, _PROT, _GEND, _YOU, _NEG, _INS,
         _PERS, _NAMED) = tuple(1 << i for i in range(13))
_FLAGS: dict[str, int] = {}
for _bit, _words in ((_PROF, _PROFANITY), (_SLUR, SLURS), (_SEX, _SEXUAL), (_THR, _THREAT),
                     (_DEH, _DEHUM), (_ATTACK, _NEGATIVE | _DEHUM | _THREAT | _HATE_VERBS),
                     (_PROT, _PROTECTED), (_GEND, _GENDER), (_YOU, _SECOND), (_NEG, _NEGATION),
                     (_INS, frozenset(INSULTS)), (_PERS, _PERSON), (_NAMED, IDENTITY_TERMS)):
    for _w in _words:
        _FLAGS[_w] = _FLAGS.get(_w, 0) | _bit
_STRUCTURES = None if Structures is None else Structures(_FLAGS, _BITS)


# The structures aimed at someone, and the words each needs one of (a group's name: it
# is what an attack on a group or an exclusion is near, and a slur is one)
_NEEDED_BITS = {"slur": _SLUR, "profanity_at_you": _PROF, "threat_at_you": _THR,
                "group_attack": _PROT, "exclusion": _PROT, "insult_at_person": _INS,
                "sexual_at_person": _SEX}


def needed_words(structures: list[str]) -> frozenset[str]:
    """The words a text must hold one of for lexicon_counts to count any of `structures`
    (names from LEX_NAMES that _NEEDED_BITS knows): a set test on a text's words rules
    out most text before it is counted."""
    bits = 0
    for name in structures:
        bits |= _NEEDED_BITS[name]
    return frozenset(word for word, flag in _FLAGS.items() if flag & bits)


_NOT_UPPER = bytes(c for c in range(256) if not 65 <= c <= 90)         # all but A-Z
_NOT_LOWER = bytes(c for c in range(256) if not 97 <= c <= 122)        # all but a-z


def shouting_ratio(raw: str) -> float:
    """The share of letters in capitals (0 for fewer than 21 letters)."""
    if letter_counts is not None:
        upper, n_letters = letter_counts(raw)
        return upper / n_letters if n_letters > 20 else 0.0
    # ASCII letters are counted by bytes.translate in C; only the non-ASCII runs (an
    # apostrophe here, an accent there) go letter by letter
    ascii_bytes = raw.encode("ascii", "ignore")
    upper = len(ascii_bytes.translate(None, _NOT_UPPER))
    n_letters = upper + len(ascii_bytes.translate(None, _NOT_LOWER))
    if not raw.isascii():
        letters = _LETTERS.findall("".join(NON_ASCII.findall(raw)))
        upper += sum(map(str.isupper, letters))
        n_letters += len(letters)
    return upper / n_letters if n_letters > 20 else 0.0


def word_structures(words: list[str]) -> tuple[tuple[int, ...], list[str], list[str]]:
    """(counts of the lexicon's words and structures in `words`, LEX_NAMES' first ten
    then insult, insult_at_person, sexual_at_person; the protected groups' names and
    slurs among the words; the names of groups among them, for `mask_groups`), repeats
    kept. An attack word near a group's name is an attack on it, negated by a negation in
    the three words before; a profanity or threat near "you" is aimed at someone, an
    insult or sexual word near a person (you, he, she) too."""
    if _STRUCTURES is not None:
        return _STRUCTURES.count(words)
    if _FLAGS.keys().isdisjoint(words):     # most sentences, and some mail: no lexicon word
        return (0,) * 13, [], []
    flag = list(map(_FLAGS.get, words, repeat(0)))
    marked = [i for i, f in enumerate(flag) if f]
    protected_at = [i for i in marked if flag[i] & _PROT]
    gender_at = [i for i in marked if flag[i] & _GEND]
    you_at = [i for i in marked if flag[i] & _YOU]
    person_at = [i for i in marked if flag[i] & _PERS]

    def near(i: int, positions: list[int]) -> bool:
        return any(0 < abs(i - j) <= 4 for j in positions)

    prof = slur = sex = threat = dehum = pyou = tyou = attack = negated = gender = 0
    insult = insult_person = sex_person = 0
    for i in marked:
        f = flag[i]
        if f & _PROF:
            prof += 1
            pyou += near(i, you_at)
        slur += bool(f & _SLUR)
        if f & _SEX:
            sex += 1
            sex_person += near(i, person_at)
        if f & _THR:
            threat += 1
            tyou += near(i, you_at)
        dehum += bool(f & _DEH)
        if f & _INS:
            insult += 1
            insult_person += near(i, person_at)
        if f & _ATTACK:
            if protected_at and near(i, protected_at):
                if any(flag[j] & _NEG for j in range(max(0, i - 3), i)):
                    negated += 1
                else:
                    attack += 1
            elif gender_at and near(i, gender_at):
                gender += 1
    counts = (prof, slur, sex, threat, dehum, pyou, tyou, attack, negated, gender, insult,
              insult_person, sex_person)
    return (counts, [words[i] for i in protected_at],
            [words[i] for i in marked if flag[i] & _NAMED])


def lexicon_counts(norm: str, raw: str = "", words: list[str] | None = None,
                   structures: tuple | None = None) -> np.ndarray:
    """Counts of words and of structures (an attack word near the name of a group), in
    LEX_NAMES' order. `words` (`words_of(norm)`) and `structures` (`word_structures` of
    them) save finding them twice."""
    if words is None:
        words = words_of(norm)
    if structures is None:
        structures = word_structures(words)
    counts, protected, _ = structures
    exclusion = count_exclusions(words, set(protected)) if protected else 0
    # log-scaled and lightly length-normalised so a long mail with one word is not a tweet
    # full of them
    scaled = np.log1p(np.array(counts[:10] + (exclusion, count_counter_cues(norm))
                               + counts[10:], np.float64))
    scaled *= min(1.0, (12.0 / (len(words) or 1)) ** 0.25)
    return np.append(scaled, shouting_ratio(raw))


def prepare(text: str) -> tuple[str, str]:
    """(normalised text, severity view with groups masked)."""
    norm = normalise(text)
    return norm, mask_groups(norm)


def featurise(texts: list[str], norms: list[str] | None = None
              ) -> tuple[list[str], list[str], np.ndarray]:
    """(normalised texts, severity views, lexicon counts): what scoring reads, with each
    text's words found once. `norms` (the texts normalised) saves normalising twice."""
    if norms is None:
        norms = [normalise(t) for t in texts]
    words = [words_of(n) for n in norms]
    found = [word_structures(w) for w in words]
    masked = [mask_groups(n, w, f[2]) for n, w, f in zip(norms, words, found, strict=True)]
    lex = [lexicon_counts(n, t, w, f)
           for n, t, w, f in zip(norms, texts, words, found, strict=True)]
    return norms, masked, np.vstack(lex) if lex else np.zeros((0, len(LEX_NAMES)))


def fingerprint() -> str:
    """A hash of every word list, table and pattern that decides what the features are. A
    model's weights mean something only against the lists it was trained with: the model
    card records this, and a model trained with other lists is refused."""
    import hashlib
    import json

    from classifiers import lexicon
    from classifiers import normalise as normaliser

    def plain(value):
        if isinstance(value, re.Pattern):
            return value.pattern
        if isinstance(value, (set, frozenset)):
            return sorted(value)
        return value

    parts = {name: plain(value) for name, value in sorted(vars(lexicon).items())
             if name.isupper()}
    parts.update(
        {name: plain(globals()[name]) for name in (
            "PLACEHOLDER", "LEX_NAMES", "_SECOND", "_PERSON", "_NEGATION", "_HATE_VERBS",
            "_MULTIWORD", "_COUNTER", "_EXCLUSION")},
        normalise={name: plain(getattr(normaliser, name)) for name in (
            "_CONFUSABLES", "_LEET", "_LEET_WORDS", "_UNIT", "_SPACED", "_WORDCHARS",
            "_MASKCHARS", "_KNOWN")})
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()
