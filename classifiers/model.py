"""The trained model as plain data: fitted vectorizers and weight matrices.

Kept as numpy arrays and scikit-learn vectorizers (nothing else), so that skops can
load it with a short, explicit list of trusted types (see `modelfile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from classifiers.features import char_view, lexicon_counts, prepare
from classifiers.taxonomy import KIND_BY_CODE, SEVERITIES, rank


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Bundle:
    """What the model file holds (as a dict of these fields)."""

    word: Any                 # TfidfVectorizer on the severity view
    char: Any                 # TfidfVectorizer (char_wb) on the severity view, groups removed
    kind_word: Any            # TfidfVectorizer on the kind view (groups visible)
    sev_coef: np.ndarray      # (4, n_word + n_char + n_lex) float32
    sev_intercept: np.ndarray
    temperature: float
    kind_coef: np.ndarray     # (n_kinds, n_kind_word + n_lex) float32
    kind_intercept: np.ndarray
    kinds: list[str]
    lex_scale: float = 1.0
    # Second opinion from the lexicon structures alone (cannot memorise a source), and
    # the stacker that weighs the two, fitted on the calibration split.
    lex_coef: np.ndarray | None = None          # (4, n_lex)
    lex_intercept: np.ndarray | None = None
    stack_coef: np.ndarray | None = None        # (4, 8)
    stack_intercept: np.ndarray | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> Bundle:
        return cls(**d)

    # -- features -------------------------------------------------------------

    def severity_features(self, masked: list[str], lex: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([self.word.transform(masked),
                          self.char.transform([char_view(m) for m in masked]),
                          sp.csr_matrix(lex * self.lex_scale)], format="csr")

    def kind_features(self, norms: list[str], lex: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([self.kind_word.transform(norms),
                          sp.csr_matrix(lex * self.lex_scale)], format="csr")

    # -- scoring --------------------------------------------------------------

    def base_logits(self, masked: list[str], lex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs = self.severity_features(masked, lex)
        z1 = np.asarray(xs @ self.sev_coef.T) + self.sev_intercept
        if self.lex_coef is None:
            return z1, np.zeros_like(z1)
        z2 = lex @ self.lex_coef.T + self.lex_intercept
        return z1, z2

    def severity_logits(self, masked: list[str], lex: np.ndarray) -> np.ndarray:
        z1, z2 = self.base_logits(masked, lex)
        if self.stack_coef is None:
            return z1
        return np.hstack([z1, z2]) @ self.stack_coef.T + self.stack_intercept

    def score(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(severity probabilities (n, 4), kind probabilities (n, k), normalised texts).

        A kind's probability is P(kind | offensive) times P(severity at least the kind's).
        """
        prepared = [prepare(t) for t in texts]
        norms = [p[0] for p in prepared]
        masked = [p[1] for p in prepared]
        lex = np.vstack([lexicon_counts(n, t) for n, t in zip(norms, texts, strict=True)])
        z = self.severity_logits(masked, lex)
        sev = softmax(z / self.temperature)
        xk = self.kind_features(norms, lex)
        pk = sigmoid(np.asarray(xk @ self.kind_coef.T) + self.kind_intercept)
        at_least = np.cumsum(sev[:, ::-1], axis=1)[:, ::-1]     # P(sev >= s)
        gate = np.stack([at_least[:, rank(KIND_BY_CODE[k].severity)] for k in self.kinds], 1)
        return sev, pk * gate, norms


SEVERITY_ORDER = SEVERITIES
