"""The classifier as the gateway and the CLI use it.

    clf = Classifier.load()                  # models/appendix1.skops, card checked
    [r] = clf.score(["some text"])
    r.severity, r.probability, r.kinds       # "serious", 0.91, {"bad_language": 0.88, ...}

A text's severity is the highest level whose cumulative probability P(severity >= level)
reaches its threshold (default 0.5 each); `probability` is that cumulative probability
(for "clean", P(clean)). Each kind's probability is P(kind | offensive) x P(severity at
least the kind's). `explain` names the words and phrases that drove a score.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifiers import modelfile
from classifiers.features import PLACEHOLDER, Needles, prepare, words_of
from classifiers.lexicon import PROFANITY, SEXUAL, SLURS
from classifiers.model import Bundle, NgramTable, at_least
from classifiers.normalise import Tidier
from classifiers.taxonomy import KIND_BY_CODE, SEVERITIES

log = logging.getLogger(__name__)
DEFAULT_THRESHOLDS: dict[str, float] = {"mild": 0.5, "serious": 0.5, "gross": 0.5}
_FLAG_WORDS = frozenset(PROFANITY) | frozenset(SLURS) | frozenset(SEXUAL)


@dataclass
class Result:
    severity: str
    probability: float
    severities: dict[str, float]                 # P(severity == s)
    at_least: dict[str, float]                   # P(severity >= s)
    kinds: dict[str, float]                      # kind code -> probability
    evidence: list[str] = field(default_factory=list)

    def top_kinds(self, min_probability: float = 0.0, limit: int = 3) -> list[tuple[str, float]]:
        """Kinds at the text's severity first (most likely first), then others."""
        ranked = sorted(self.kinds.items(), key=lambda kv: (
            KIND_BY_CODE[kv[0]].severity != self.severity, -kv[1]))
        return [(k, p) for k, p in ranked if p >= min_probability][:limit]

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "probability": round(self.probability, 4),
                "severities": {k: round(v, 4) for k, v in self.severities.items()},
                "kinds": {k: round(v, 4) for k, v in self.kinds.items()}}


class Classifier:
    def __init__(self, bundle: Bundle, card: dict[str, Any] | None = None,
                 thresholds: dict[str, float] | None = None) -> None:
        self.bundle = bundle
        self.card = card or {}
        self.thresholds = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
        self._word_terms: list[str] | None = None

    @classmethod
    def load(cls, path: Path | str | None = None,
             thresholds: dict[str, float] | None = None) -> Classifier:
        bundle, card = modelfile.load(path)
        if NgramTable is None:
            log.warning("classifiers._ngrams is not built (pip install -e . with gcc and the "
                        "Python headers): scoring in Python, about twice as slow")
        if Tidier is None:
            log.warning("classifiers._normalise is not built (pip install -e . with gcc and "
                        "the Python headers): normalising in Python, slower")
        if Needles is None:
            log.warning("classifiers._scan is not built (pip install -e . with gcc and the "
                        "Python headers): counting the lexicon in Python, slower")
        return cls(bundle, card, thresholds)

    @property
    def version(self) -> str:
        return f"{self.card.get('model_file', '?')}@{str(self.card.get('sha256', ''))[:12]}"

    def decide(self, at_least: dict[str, float]) -> str:
        severity = "clean"
        for level in ("mild", "serious", "gross"):
            if at_least[level] >= self.thresholds[level]:
                severity = level
        return severity

    def score(self, texts: list[str], explain: bool = False, kinds_from: float = 0.0
              ) -> list[Result]:
        """`kinds_from`: a text whose P(mild or worse) is under it gets no kinds (an empty
        `kinds`); a caller that reports kinds only at thresholds of at least this spares
        most texts the kind model. The other fields are the same either way."""
        if not texts:
            return []
        sev, kinds, norms = self.bundle.score(list(texts), kinds_from)
        # as lists of Python floats: reading numpy scalars one by one costs more than
        # scoring a short text
        rows = zip(sev.tolist(), at_least(sev).tolist(), kinds.tolist(), strict=True)
        out = []
        for text, (sev_i, cum_i, kinds_i) in zip(texts, rows, strict=True):
            at_least_i = dict(zip(SEVERITIES, cum_i, strict=True))
            severity = self.decide(at_least_i)
            out.append(Result(
                severity=severity,
                probability=sev_i[0] if severity == "clean" else at_least_i[severity],
                severities=dict(zip(SEVERITIES, sev_i, strict=True)),
                at_least=at_least_i,
                kinds={} if kinds_i and math.isnan(kinds_i[0])     # not worked out
                else dict(zip(self.bundle.kinds, kinds_i, strict=True)),
                evidence=self.explain(text, severity) if explain and severity != "clean"
                else []))
        return out

    predict = score

    def explain(self, text: str, severity: str, limit: int = 6) -> list[str]:
        """The words and phrases that pushed this text towards `severity`."""
        norm, masked = prepare(text)
        words = set(words_of(norm))
        flagged = sorted(words & _FLAG_WORDS)
        level = SEVERITIES.index(severity)
        x = self.bundle.word.transform([masked]).tocsr()
        contrib = x.data * (self.bundle.sev_coef[level, x.indices]
                            - self.bundle.sev_coef[0, x.indices])
        if self._word_terms is None:
            self._word_terms = self.bundle.word.get_feature_names_out().tolist()
        order = np.argsort(-contrib)
        phrases = []
        for j in order[:limit]:
            if contrib[j] <= 0:
                break
            phrases.append(self._word_terms[x.indices[j]].replace(PLACEHOLDER, "<group>"))
        return list(dict.fromkeys(flagged + phrases))[:limit]
