"""The trained model as plain data: fitted vectorizers and weight matrices.

Kept as numpy arrays and scikit-learn vectorizers (nothing else), so that skops can
load it with a short, explicit list of trusted types (see `modelfile`).
"""

from __future__ import annotations

import re
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


class FastTfidf:
    """The same numbers as a fitted TfidfVectorizer's `transform`, several times faster on
    mail: each distinct word's character n-grams are looked up once and cached (mail
    repeats its words), and counting is done in numpy. Supports the analyzers used here
    ("word" with a token pattern and "char_wb"), lowercase, sublinear tf, l2 norm."""

    def __init__(self, vec: Any, cache_size: int = 200_000) -> None:
        self.vocab: dict[str, int] = vec.vocabulary_
        self.idf = np.asarray(vec.idf_, dtype=np.float32)
        self.analyzer = vec.analyzer
        self.min_n, self.max_n = vec.ngram_range
        self.sublinear = bool(vec.sublinear_tf)
        self.lowercase = bool(vec.lowercase)
        self.token_re = re.compile(vec.token_pattern) if vec.analyzer == "word" else None
        self.cache: dict[str, list[int]] = {}
        self.cache_size = cache_size
        if vec.norm != "l2" or not vec.use_idf or vec.stop_words or vec.strip_accents:
            raise ValueError("FastTfidf supports l2-normalised idf vectorizers only")

    def _word_grams(self, word: str) -> list[int]:
        got = self.cache.get(word)
        if got is not None:
            return got
        w = f" {word} "
        vocab, out = self.vocab, []
        w_len = len(w)
        for n in range(self.min_n, self.max_n + 1):
            offset = 0
            idx = vocab.get(w[offset:offset + n])
            if idx is not None:
                out.append(idx)
            while offset + n < w_len:
                offset += 1
                idx = vocab.get(w[offset:offset + n])
                if idx is not None:
                    out.append(idx)
            if offset == 0:
                break
        if len(self.cache) >= self.cache_size:
            self.cache.clear()
        self.cache[word] = out
        return out

    def _indices(self, doc: str) -> list[int]:
        if self.lowercase:
            doc = doc.lower()
        if self.analyzer == "char_wb":
            out: list[int] = []
            for word in doc.split():
                out.extend(self._word_grams(word))
            return out
        tokens = self.token_re.findall(doc)
        vocab = self.vocab
        out = []
        for n in range(self.min_n, self.max_n + 1):
            if n == 1:
                grams = tokens
            else:
                grams = [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
            for g in grams:
                idx = vocab.get(g)
                if idx is not None:
                    out.append(idx)
        return out

    def transform(self, docs: list[str]) -> sp.csr_matrix:
        indptr = [0]
        all_idx: list[np.ndarray] = []
        all_val: list[np.ndarray] = []
        for doc in docs:
            ids = self._indices(doc)
            if ids:
                uniq, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
                tf = counts.astype(np.float32)
                if self.sublinear:
                    tf = np.log(tf) + 1.0
                val = tf * self.idf[uniq]
                norm = float(np.sqrt(np.dot(val, val)))
                if norm > 0:
                    val /= norm
                all_idx.append(uniq)
                all_val.append(val.astype(np.float32))
                indptr.append(indptr[-1] + len(uniq))
            else:
                indptr.append(indptr[-1])
        indices = np.concatenate(all_idx) if all_idx else np.zeros(0, np.int64)
        data = np.concatenate(all_val) if all_val else np.zeros(0, np.float32)
        return sp.csr_matrix((data, indices, np.asarray(indptr)),
                             shape=(len(docs), len(self.idf)))


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

    # -- features -------------------------------------------------------------

    def fast(self, name: str) -> Any:
        """A FastTfidf for vectorizer `name` (built once), or the vectorizer itself."""
        cache = self.__dict__.setdefault("_fast", {})
        if name not in cache:
            vec = getattr(self, name)
            try:
                cache[name] = FastTfidf(vec)
            except (ValueError, AttributeError):
                cache[name] = vec
        return cache[name]

    def severity_features(self, masked: list[str], lex: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([self.fast("word").transform(masked),
                          self.fast("char").transform([char_view(m) for m in masked]),
                          sp.csr_matrix(lex * self.lex_scale)], format="csr")

    def kind_features(self, norms: list[str], lex: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([self.fast("kind_word").transform(norms),
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
