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
_PROFANITY = frozenset(PROFANITY)
_SEXUAL = frozenset(SEXUAL)
_THREAT = frozenset(THREAT)
_DEHUM = frozenset(DEHUMANISING)
_NEGATIVE = frozenset(NEGATIVE_ATTRIBUTES)
_SECOND = frozenset({"you", "your", "youre", "you're", "u", "ur", "yourself"})
_MULTIWORD = re.compile(r"\b(?:mental(?:ly)? ill(?:ness)?|down'?s syndrome|learning disab\w+|"
                        r"people of colou?r|asylum seekers?)\b")
LEX_NAMES = ("profanity", "slur", "sexual", "threat", "dehumanising", "threat_near_group",
             "dehumanising_near_group", "profanity_at_you", "threat_at_you", "negative_about_group", "shouting")


def mask_groups(norm: str) -> str:
    norm = _MULTIWORD.sub(PLACEHOLDER, norm)
    return _WORD.sub(lambda m: PLACEHOLDER if m.group(0) in IDENTITY_TERMS else m.group(0),
                     norm)


def char_view(masked: str) -> str:
    return masked.replace(PLACEHOLDER, " ")


def lexicon_counts(norm: str, raw: str = "") -> np.ndarray:
    words = _WORD.findall(norm)
    n = len(words) or 1
    prof = slur = sex = threat = dehum = tnear = dnear = pyou = tyou = neg = 0
    group_at = [i for i, w in enumerate(words) if w in IDENTITY_TERMS or w in SLURS]
    you_at = [i for i, w in enumerate(words) if w in _SECOND]
    for i, w in enumerate(words):
        if w in _PROFANITY:
            prof += 1
            pyou += any(abs(i - j) <= 3 for j in you_at)
        if w in SLURS:
            slur += 1
        if w in _SEXUAL:
            sex += 1
        if w in _THREAT:
            threat += 1
            tnear += any(abs(i - j) <= 4 for j in group_at)
            tyou += any(abs(i - j) <= 3 for j in you_at)
        if w in _NEGATIVE:
            neg += any(0 < i - j <= 3 or 0 < j - i <= 2 for j in group_at)
        if w in _DEHUM:
            dehum += 1
            dnear += any(abs(i - j) <= 4 for j in group_at)
    letters = [c for c in raw if c.isalpha()]
    shouting = (sum(c.isupper() for c in letters) / len(letters)) if len(letters) > 20 else 0.0
    counts = np.array([prof, slur, sex, threat, dehum, tnear, dnear, pyou, tyou, neg], dtype=np.float64)
    # log-scaled and lightly length-normalised so a long mail with one word is not a tweet
    # full of them
    scaled = np.log1p(counts) * min(1.0, (12.0 / n) ** 0.25)
    return np.append(scaled, shouting).astype(np.float64)


def prepare(text: str) -> tuple[str, str]:
    """(normalised text, severity view with groups masked)."""
    norm = normalise(text)
    return norm, mask_groups(norm)
