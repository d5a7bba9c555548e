"""The training vocabulary is the same on every machine: `max_features` keeps the most
frequent terms, and among terms of equal count the alphabetically first. scikit-learn's
own choice among them follows numpy's argsort, whose order among equal keys depends on
the CPU's sort kernel: it fails the first test here on an AVX-512 machine."""

from __future__ import annotations

import random

from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.train import fit_vocabulary

N_WORDS, N_TWICE_KEPT = 3000, 300


def _docs() -> tuple[list[str], set[str]]:
    """Texts where each of 3,000 words occurs once, twice or three times, and the terms
    a limit keeps: every word met three times and the alphabetically first 300 met twice."""
    rng = random.Random(7)
    times = {f"w{i:04d}": rng.choice((1, 2, 3)) for i in range(N_WORDS)}
    pool = [w for w, n in times.items() for _ in range(n)]
    rng.shuffle(pool)
    docs = [" ".join(pool[i:i + 40]) for i in range(0, len(pool), 40)]
    kept = {w for w, n in times.items() if n == 3}
    kept |= set(sorted(w for w, n in times.items() if n == 2)[:N_TWICE_KEPT])
    return docs, kept


def test_equal_counts_keep_the_alphabetically_first_terms():
    docs, kept = _docs()
    vec = fit_vocabulary(TfidfVectorizer(max_features=len(kept), sublinear_tf=True), docs)
    assert set(vec.vocabulary_) == kept


def test_the_vocabulary_does_not_depend_on_the_order_of_the_texts():
    docs, kept = _docs()
    docs.reverse()
    assert set(fit_vocabulary(TfidfVectorizer(max_features=len(kept)), docs).vocabulary_) \
        == kept


def test_without_ties_it_is_scikit_learns_vocabulary_and_weights():
    # counts: aa 7, bb 4, cc 3, ee 2, dd 1, ff 1
    docs = ["aa aa aa aa bb bb bb cc cc dd", "aa bb cc ee ee", "aa aa ff"]
    ours = fit_vocabulary(TfidfVectorizer(max_features=4), docs)
    theirs = TfidfVectorizer(max_features=4).fit(docs)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert (ours.transform(docs) != theirs.transform(docs)).nnz == 0
