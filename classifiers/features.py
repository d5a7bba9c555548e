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

import numpy as np

from classifiers.lexicon import (
    DEHUMANISING,
    IDENTITY_TERMS,
    NEGATIVE_ATTRIBUTES,
    PROFANITY,
    SEXUAL,
    SLURS,
    THREAT,
)
from classifiers.normalise import normalise

PLACEHOLDER = "xidx"
_WORD = re.compile(r"[a-z0-9']+")
_LETTERS = re.compile(r"[^\W\d_]")
_PROFANITY = frozenset(PROFANITY)
_SEXUAL = frozenset(SEXUAL)
_THREAT = frozenset(THREAT)
_DEHUM = frozenset(DEHUMANISING)
_NEGATIVE = frozenset(NEGATIVE_ATTRIBUTES)
_SECOND = frozenset({"you", "your", "youre", "you're", "u", "ur", "yourself"})
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
             "exclusion", "counter_speech", "shouting")


def mask_groups(norm: str) -> str:
    norm = _MULTIWORD.sub(PLACEHOLDER, norm)
    return _WORD.sub(lambda m: PLACEHOLDER if m.group(0) in IDENTITY_TERMS else m.group(0),
                     norm)


def char_view(masked: str) -> str:
    return masked.replace(PLACEHOLDER, " ")


def lexicon_counts(norm: str, raw: str = "") -> np.ndarray:
    """Counts of words and of structures (an attack word near the name of a group)."""
    words = _WORD.findall(norm)
    n = len(words) or 1
    prof = slur = sex = threat = dehum = pyou = tyou = attack = negated = gender = 0
    protected_at = [i for i, w in enumerate(words) if w in _PROTECTED]
    gender_at = [i for i, w in enumerate(words) if w in _GENDER]
    you_at = [i for i, w in enumerate(words) if w in _SECOND]

    def near(i: int, positions: list[int]) -> bool:
        return any(0 < i - j <= 4 or 0 < j - i <= 4 for j in positions)

    for i, w in enumerate(words):
        if w in _PROFANITY:
            prof += 1
            pyou += near(i, you_at)
        if w in SLURS:
            slur += 1
        if w in _SEXUAL:
            sex += 1
        if w in _THREAT:
            threat += 1
            tyou += near(i, you_at)
        if w in _DEHUM:
            dehum += 1
        if w in _NEGATIVE or w in _DEHUM or w in _THREAT or w in _HATE_VERBS:
            if protected_at and near(i, protected_at):
                if any(x in _NEGATION for x in words[max(0, i - 3):i]):
                    negated += 1
                else:
                    attack += 1
            elif gender_at and near(i, gender_at):
                gender += 1
    exclusion = 0
    if protected_at:
        grp = " ".join("grp" if w in _PROTECTED else w for w in words)
        exclusion = len(_EXCLUSION.findall(grp))
    letters = _LETTERS.findall(raw)
    shouting = (sum(map(str.isupper, letters)) / len(letters)) if len(letters) > 20 else 0.0
    counts = np.array([prof, slur, sex, threat, dehum, pyou, tyou, attack, negated, gender,
                       exclusion, len(_COUNTER.findall(norm))], dtype=np.float64)
    # log-scaled and lightly length-normalised so a long mail with one word is not a tweet
    # full of them
    scaled = np.log1p(counts) * min(1.0, (12.0 / n) ** 0.25)
    return np.append(scaled, shouting).astype(np.float64)


def prepare(text: str) -> tuple[str, str]:
    """(normalised text, severity view with groups masked)."""
    norm = normalise(text)
    return norm, mask_groups(norm)
