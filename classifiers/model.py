"""The trained model as plain data: fitted vectorizers and weight matrices.

Kept as numpy arrays and scikit-learn vectorizers (nothing else), so that skops can
load it with a short, explicit list of trusted types (see `modelfile`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np
import scipy.sparse as sp

from classifiers.features import LEX_NAMES, char_view, featurise, needed_words, words_of
from classifiers.normalise import normalise
from classifiers.taxonomy import KIND_BY_CODE, SEVERITIES, rank

try:
    from classifiers._ngrams import NgramTable
except ImportError:     # not compiled (`pip install -e .` builds it): same numbers, slower
    NgramTable = None


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def evidence_scale(masked: list[str], words: float | None) -> np.ndarray:
    """How much of each text's n-gram evidence counts: all of it up to `words` words, and
    for a longer text sqrt(words / its words). A TF-IDF row is l2-normalised, so the
    logit of a text with n distinct terms grows like sqrt(n) times their mean weight: a
    700-word essay's many small weights added up like a slur in a tweet, and long clean
    mail about religion or the news was held. (`masked` is normalised text, one space
    between words, so counting spaces counts words.)"""
    if not words:
        return np.ones(len(masked))
    n = np.array([m.count(" ") + 1 for m in masked], np.float64)
    return np.minimum(1.0, np.sqrt(words / n))


def at_least(sev: np.ndarray) -> np.ndarray:
    """P(severity >= s) for each severity s, from P(severity == s) (rows of clean..gross)."""
    return np.cumsum(sev[:, ::-1], axis=1)[:, ::-1]


CACHED_WORD_LONGEST = 40     # as CACHE_LONGEST_WORD in _ngrams.c


class FastTfidf:
    """The same numbers as a fitted TfidfVectorizer's `transform`, several times faster on
    mail: each distinct word's character n-grams are looked up once and cached (mail
    repeats its words), and counting is done in numpy. Supports the analyzers used here
    ("word" with a token pattern and "char_wb"), lowercase, sublinear tf, l2 norm."""

    def __init__(self, vec: Any, cache_size: int = 50_000) -> None:
        self.vec = vec
        self.vocab: dict[str, int] = vec.vocabulary_
        self.idf = np.asarray(vec.idf_, dtype=np.float32)
        self.analyzer = vec.analyzer
        self.min_n, self.max_n = vec.ngram_range
        self.sublinear = bool(vec.sublinear_tf)
        self.lowercase = bool(vec.lowercase)
        self.token_re = re.compile(vec.token_pattern) if vec.analyzer == "word" else None
        self.cache: dict[str, np.ndarray] = {}
        self.cache_size = cache_size
        self._tables: dict[int, tuple[np.ndarray, Any]] = {}
        self.compilable = NgramTable is not None and (
            self.analyzer == "char_wb" or vec.token_pattern == r"(?u)\b\w+\b")
        if vec.norm != "l2" or not vec.use_idf or vec.stop_words or vec.strip_accents:
            raise ValueError("FastTfidf supports l2-normalised idf vectorizers only")

    def _word_grams(self, word: str) -> np.ndarray:
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
        return np.asarray(out, dtype=np.int64)

    def _indices(self, doc: str) -> np.ndarray:
        """The vocabulary index of each n-gram in `doc` (repeats kept). map, chain and set
        keep the per-word loops in C: a 5 KB mail has ~800 words."""
        if self.lowercase:
            doc = doc.lower()
        if self.analyzer == "char_wb":
            words = doc.split()
            if not words:
                return np.zeros(0, np.int64)
            cache = self.cache
            missing = set(words).difference(cache)
            if len(cache) + len(missing) > self.cache_size:
                cache.clear()
                missing = set(words)
            for word in missing:
                cache[word] = self._word_grams(word)
            try:
                ids = np.concatenate(list(map(cache.__getitem__, words)))
            except KeyError:    # another thread (the content check's) cleared the cache
                ids = np.concatenate([self._word_grams(word) for word in words])
            for word in missing:    # as the compiled table, keep no word a hostile mail
                if len(word) > CACHED_WORD_LONGEST:    # can make 200,000 characters long
                    cache.pop(word, None)
            return ids
        tokens = self.token_re.findall(doc)
        grams = chain.from_iterable(
            tokens if n == 1 else map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False))
            for n in range(self.min_n, self.max_n + 1))
        ids = np.fromiter(map(self.vocab.get, grams, repeat(-1)), np.int64)
        return ids[ids >= 0]

    def row(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        """One document's (feature indices, tf-idf values), l2-normalised."""
        ids = self._indices(doc)
        if not len(ids):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        uniq, counts = np.unique(ids, return_counts=True)
        tf = counts.astype(np.float32)
        if self.sublinear:
            tf = np.log(tf) + 1.0
        val = tf * self.idf[uniq]
        norm = float(np.sqrt(np.dot(val, val)))
        if norm > 0:
            val /= norm
        return uniq, val

    def transform(self, docs: list[str]) -> sp.csr_matrix:
        rows = [self.row(doc) for doc in docs]
        indptr = np.cumsum([0] + [len(idx) for idx, _ in rows])
        indices = np.concatenate([idx for idx, _ in rows]) if rows else np.zeros(0, np.int64)
        data = np.concatenate([val for _, val in rows]) if rows else np.zeros(0, np.float32)
        return sp.csr_matrix((data, indices, indptr), shape=(len(docs), len(self.idf)))

    def _table(self, weights: np.ndarray) -> Any:
        """The compiled scorer for these weights (built once per weight matrix)."""
        held = self._tables.get(id(weights))
        if held is None or held[0] is not weights:
            terms = self.vec.get_feature_names_out().tolist()     # in feature order
            table = NgramTable(terms, self.idf, np.ascontiguousarray(weights, np.float32),
                               weights.shape[1], self.analyzer, self.min_n, self.max_n,
                               self.sublinear)
            held = self._tables[id(weights)] = (weights, table)
        return held[1]

    def dot(self, docs: list[str], weights: np.ndarray, lowered: bool = False) -> np.ndarray:
        """`transform(docs) @ weights` for a (n_features, k) C-contiguous `weights`, without
        building a sparse matrix: compiled where it can be, else a gather of the rows each
        document uses. `lowered`: the docs are lower-case already (normalised text is), so
        the vectorizer's lower-casing is skipped."""
        if self.compilable:
            table = self._table(weights)
            lower = str.lower if self.lowercase and not lowered else str
            rows = [table.dot(lower(doc)) for doc in docs]
            return np.array(rows, np.float64).reshape(len(docs), weights.shape[1])
        out = np.zeros((len(docs), weights.shape[1]), np.float64)
        for i, doc in enumerate(docs):
            idx, val = self.row(doc)
            if len(idx):
                out[i] = val @ weights[idx]
        return out


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
    # A text longer than this many words has its n-gram evidence scaled (evidence_scale)
    ngram_words: float | None = None
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
        scale = sp.diags(evidence_scale(masked, self.ngram_words).astype(np.float32))
        return sp.hstack([scale @ self.fast("word").transform(masked),
                          scale @ self.fast("char").transform([char_view(m) for m in masked]),
                          sp.csr_matrix(lex * self.lex_scale)], format="csr")

    def kind_features(self, norms: list[str], lex: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([self.fast("kind_word").transform(norms),
                          sp.csr_matrix(lex * self.lex_scale)], format="csr")

    # -- scoring --------------------------------------------------------------

    def _weights(self) -> dict[str, np.ndarray]:
        """The coefficient matrices split per feature block and transposed to
        (n_features, k), C-contiguous: a document's logits are then a gather of the rows
        its features use; the lexicon blocks carry `lex_scale`. Rebuilt if the
        coefficients or the scale are replaced (training does)."""
        key = (id(self.sev_coef), id(self.kind_coef), self.lex_scale)
        cached = self.__dict__.get("_weights_cache")
        if cached is None or cached[0] != key:
            n_word, n_char = len(self.word.idf_), len(self.char.idf_)
            n_kind_word = len(self.kind_word.idf_)
            sev, kind = self.sev_coef, self.kind_coef
            blocks = {
                "word": sev[:, :n_word], "char": sev[:, n_word:n_word + n_char],
                "sev_lex": sev[:, n_word + n_char:], "kind_word": kind[:, :n_kind_word],
                "kind_lex": kind[:, n_kind_word:]}
            weights = {k: np.ascontiguousarray(v.T) for k, v in blocks.items()}
            # the lexicon counts' scale, folded in (float64: as scaling the counts would be)
            for k in ("sev_lex", "kind_lex"):
                weights[k] = weights[k].astype(np.float64) * self.lex_scale
            cached = (key, weights)
            self.__dict__["_weights_cache"] = cached
        return cached[1]

    def _block_dot(self, name: str, docs: list[str], weights: np.ndarray) -> np.ndarray:
        """`docs` are normalised text (or views of it), which is lower-case."""
        fast = self.fast(name)
        if isinstance(fast, FastTfidf):
            return fast.dot(docs, weights, lowered=True)
        return np.asarray(fast.transform(docs) @ weights)

    def _ngram_logits(self, masked: list[str], scale: np.ndarray | None) -> np.ndarray:
        """The severity view's word and char n-gram logits, scaled by `evidence_scale`
        (`scale`, where the caller already has it)."""
        w = self._weights()
        if scale is None:
            scale = evidence_scale(masked, self.ngram_words)
        ngrams = (self._block_dot("word", masked, w["word"])
                  + self._block_dot("char", [char_view(m) for m in masked], w["char"]))
        return ngrams * scale[:, None]

    def base_logits(self, masked: list[str], lex: np.ndarray, scale: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """`scale`: the texts' `evidence_scale`, where the caller already has it."""
        z1 = (self._ngram_logits(masked, scale) + lex @ self._weights()["sev_lex"]
              + self.sev_intercept)
        if self.lex_coef is None:
            return z1, np.zeros_like(z1)
        z2 = lex @ self.lex_coef.T + self.lex_intercept
        return z1, z2

    def kind_logits(self, norms: list[str], lex: np.ndarray) -> np.ndarray:
        w = self._weights()
        return (self._block_dot("kind_word", norms, w["kind_word"])
                + lex @ w["kind_lex"] + self.kind_intercept)

    def severity_logits(self, masked: list[str], lex: np.ndarray,
                        scale: np.ndarray | None = None) -> np.ndarray:
        z1, z2 = self.base_logits(masked, lex, scale)
        if self.stack_coef is None:
            return z1
        k = z1.shape[1]     # the stacker's inputs are [z1 | z2]: weighed apart, not stacked
        return (z1 @ self.stack_coef[:, :k].T + z2 @ self.stack_coef[:, k:].T
                + self.stack_intercept)

    def score(self, texts: list[str], kinds_from: float = 0.0
              ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(severity probabilities (n, 4), kind probabilities (n, k), normalised texts).

        A kind's probability is P(kind | offensive) times P(severity at least the kind's).
        A long text scores as its most offensive sentence where that is higher (see
        `_sentences_of_concern`). Kinds are worked out only for texts whose P(mild or
        worse) reaches `kinds_from`; the others' are NaN (see `_probabilities`).
        """
        norms, masked, lex = featurise(texts)
        scale = evidence_scale(masked, self.ngram_words)
        sev, kinds = self._probabilities(norms, masked, lex, scale, kinds_from)
        self._take_worst_sentence(texts, scale, lex, sev, kinds, kinds_from)
        return sev, kinds, norms

    def _take_worst_sentence(self, texts: list[str], scale: np.ndarray, lex: np.ndarray,
                             sev: np.ndarray, kinds: np.ndarray, kinds_from: float = 0.0
                             ) -> None:
        """Give a long text the scores of its most offensive sentence where that sentence
        reaches SENTENCE_THRESHOLD and scores higher than the text (in place). `scale` is
        the texts' `evidence_scale`: below 1 marks a long text."""
        owners, sentences = self._sentences_of_concern(texts, scale, lex)
        if not sentences:
            return
        # only a sentence with a structure of its own can count: score just those, and
        # count structures only in sentences holding a word one needs (a few in a hundred)
        s_norms = [normalise(sentence) for sentence in sentences]
        maybe = [j for j, norm in enumerate(s_norms)
                 if not _SUPPORT_WORDS.isdisjoint(words_of(norm))]
        if not maybe:
            return
        s_norms, s_masked, s_lex = featurise([sentences[j] for j in maybe],
                                             [s_norms[j] for j in maybe])
        counted = np.flatnonzero(s_lex[:, SENTENCE_SUPPORT].any(axis=1))
        if not len(counted):
            return
        s_sev, s_kinds = self._probabilities([s_norms[j] for j in counted],
                                             [s_masked[j] for j in counted], s_lex[counted],
                                             kinds_from=kinds_from)
        serious, best = at_least(s_sev)[:, 2], at_least(sev)[:, 2]
        for k in np.flatnonzero(serious >= SENTENCE_THRESHOLD):
            i = owners[maybe[counted[k]]]
            if serious[k] > best[i]:
                sev[i], kinds[i], best[i] = s_sev[k], s_kinds[k], serious[k]

    def _probabilities(self, norms: list[str], masked: list[str], lex: np.ndarray,
                       scale: np.ndarray | None = None, kinds_from: float = 0.0
                       ) -> tuple[np.ndarray, np.ndarray]:
        """(P(severity), P(kind)): `severity_logits` and `kind_logits` as `_folded` holds
        them, so that a short text pays for a few array calls, not a score of them.

        A kind is only ever reported with a severity that reaches a threshold, and no
        kind's probability exceeds P(mild or worse): the kinds of a text under
        `kinds_from` are not worked out (NaN), which spares most mail the kind model's
        n-gram scoring (the gateway asks from its lowest threshold)."""
        to_sev, lex_all, bias_all = self._folded()
        from_lex = lex @ lex_all + bias_all
        k = to_sev.shape[1]
        sev = softmax((self._ngram_logits(masked, scale) @ to_sev + from_lex[:, :k])
                      / self.temperature)
        cum = at_least(sev)
        kinds = np.full((len(norms), len(self.kinds)), np.nan)
        need = np.flatnonzero(cum[:, 1] >= kinds_from)
        if len(need):
            pk = sigmoid(self._block_dot("kind_word", [norms[i] for i in need],
                                         self._weights()["kind_word"]) + from_lex[need, k:])
            kinds[need] = pk * cum[need][:, self._kind_severity_columns()]
        return sev, kinds

    def _folded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n-gram logits -> severity logits, lexicon counts -> [severity | kind] logits,
        their biases): everything between the n-gram scores and the softmax is linear, so
        the stacker is folded into the weights once. The same logits as severity_logits
        and kind_logits to rounding (the tests hold them to 1e-9)."""
        w = self._weights()
        # what it is made of, held, so that a replaced part (training replaces them) is
        # seen: compared by identity, as a new array may be equal in value only
        parts = (w, self.stack_coef, self.stack_intercept, self.lex_coef, self.lex_intercept,
                 self.sev_intercept, self.kind_intercept)
        cached = self.__dict__.get("_folded_cache")
        if cached is None or any(a is not b for a, b in zip(cached[0], parts, strict=True)):
            k = self.sev_intercept.shape[0]
            if self.stack_coef is None:         # no stacker: z1 alone
                to_sev, from_z2 = np.eye(k), np.zeros((k, k))
                bias = np.asarray(self.sev_intercept, np.float64)
            else:
                to_sev = self.stack_coef[:, :k].T.astype(np.float64)
                from_z2 = self.stack_coef[:, k:].T.astype(np.float64)
                bias = self.sev_intercept @ to_sev + self.stack_intercept
            sev_lex = w["sev_lex"] @ to_sev
            if self.lex_coef is not None:       # z2 = lex @ lex_coef.T + lex_intercept
                sev_lex = sev_lex + self.lex_coef.T @ from_z2
                bias = bias + self.lex_intercept @ from_z2
            lex_all = np.hstack([sev_lex, w["kind_lex"]])
            bias_all = np.concatenate([bias, self.kind_intercept]).astype(np.float64)
            cached = (parts, (to_sev, lex_all, bias_all))
            self.__dict__["_folded_cache"] = cached
        return cached[1]

    def _kind_severity_columns(self) -> np.ndarray:
        """For each kind, the column of its severity in `at_least` (computed once: a
        column per kind stacked costs a tenth of a millisecond a call)."""
        key, columns = self.__dict__.get("_kind_columns_cache", (None, None))
        if key is not self.kinds:
            columns = np.array([rank(KIND_BY_CODE[k].severity) for k in self.kinds], np.intp)
            self.__dict__["_kind_columns_cache"] = (self.kinds, columns)
        return columns

    def _sentences_of_concern(self, texts: list[str], scale: np.ndarray, lex: np.ndarray
                              ) -> tuple[list[int], list[str]]:
        """The sentences of long texts to score on their own, each with its text's index.
        Scored whole, one abusive sentence among many clean ones is diluted to nothing;
        scored alone, a sentence is the length of the text the model learned from. Only
        a text whose lexicon shows a structure of abuse is split (most mail costs nothing),
        and a sentence counts only with such a structure of its own: without that
        requirement, clean mail was held four to five times as often."""
        owners: list[int] = []
        sentences: list[str] = []
        long = scale < 1
        if not long.any():       # most mail: nothing to split
            return owners, sentences
        for i in np.flatnonzero(long & lex[:, SENTENCE_GATE].any(axis=1)):
            # a line said twice (a signature, a quoted line) scores the same twice
            for sentence in dict.fromkeys(split_sentences(texts[i])):
                if len(sentence.split(maxsplit=2)) == 3:     # three words or more
                    owners.append(int(i))
                    sentences.append(sentence)
        return owners, sentences


# A sentence of a long text, scored alone, counts when P(serious or worse) reaches this and
# one of these lexicon structures is in it. Measured on the SpamAssassin ham dev half, on
# ham never trained on, and on offensive functional cases put among the lines of long
# clean mail (see the model card), with the model before NB-LR: at 0.8, 0.23 % / 0.40 % of
# clean mail held and a quarter of the buried cases; at 0.7, 0.45 % / 0.50 % and a third.
SENTENCE_THRESHOLD = 0.8
SENTENCE_STRUCTURES = ["slur", "profanity_at_you", "threat_at_you", "group_attack",
                       "exclusion", "insult_at_person", "sexual_at_person"]
SENTENCE_SUPPORT = [LEX_NAMES.index(name) for name in SENTENCE_STRUCTURES]
_SUPPORT_WORDS = needed_words(SENTENCE_STRUCTURES)     # a sentence without one shows none
# A text is split only if it shows one of these: a sentence's structures are the whole
# text's too, except that a negation in the sentence before can mark a group attack negated
SENTENCE_GATE = SENTENCE_SUPPORT + [LEX_NAMES.index("group_attack_negated")]
# Where a sentence ends: white space after '.', '!' or '?', or line breaks. Each alternative
# begins with a literal, so the regex engine jumps from one of those characters to the next;
# written "(?<=[.!?])\s+|\n+", the same breaks cost it a try at every position of the text
# (5 KB of mail: 135 us, against 45 us for split_sentences)
_SENTENCE_BREAK = re.compile(r"\.\s+|!\s+|\?\s+|\n\n*")


def split_sentences(text: str) -> list[str]:
    r"""`text` cut where a sentence ends, as `re.split(r"(?<=[.!?])\s+|\n+", text)` cuts
    it: the white space after '.', '!' or '?' and runs of line breaks go, the punctuation
    stays with its sentence."""
    out, done = [], 0
    for end in _SENTENCE_BREAK.finditer(text):
        start = end.start()
        out.append(text[done:start + (text[start] != "\n")])     # keep the '.', '!' or '?'
        done = end.end()
    out.append(text[done:])
    return out


SEVERITY_ORDER = SEVERITIES
