"""The fast TF-IDF used at inference gives the same numbers as scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.features import char_view, prepare
from classifiers.model import CACHED_WORD_LONGEST, FastTfidf

TEXTS = ["You are a pathetic f*cking loser", "Parents' evening is on Tuesday at 4pm.",
         "", "   ", "Ünïcödé and ｆｕｌｌ width", "word " * 300, "Muslims and Jews in RE class",
         "a b c d e f g", "don't won't can't 1,000 3.14 e-mail x@y.z",
         "a token longer than the cache keeps " + "abcdefghij" * 30]


def test_fast_tfidf_matches_sklearn(classifier):
    bundle = classifier.bundle
    prepared = [prepare(t) for t in TEXTS]
    views = {"word": [m for _, m in prepared],
             "char": [char_view(m) for _, m in prepared],
             "kind_word": [n for n, _ in prepared]}
    for name, docs in views.items():
        vec = getattr(bundle, name)
        fast = FastTfidf(vec)
        expected = vec.transform(docs).toarray()
        for _ in range(2):          # second pass reads the per-word cache
            got = fast.transform(docs).toarray()
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=name)
        assert max(map(len, fast.cache), default=0) <= CACHED_WORD_LONGEST


@pytest.mark.parametrize("lex_scale", [None, 3.0])
def test_scoring_by_gather_matches_the_sparse_product(classifier, monkeypatch, lex_scale):
    """Scoring reads the weight rows a text uses instead of building sparse matrices;
    the logits must be those of the feature matrix the model was trained on. The shipped
    model's lexicon scale is 1, so a scale of 3 checks that scoring applies it."""
    from classifiers.features import lexicon_counts

    bundle = classifier.bundle
    if lex_scale is not None:
        monkeypatch.setattr(bundle, "lex_scale", lex_scale)
    prepared = [prepare(t) for t in TEXTS]
    norms, masked = [n for n, _ in prepared], [m for _, m in prepared]
    lex = np.vstack([lexicon_counts(n, t) for n, t in zip(norms, TEXTS, strict=True)])
    sparse = np.asarray(bundle.severity_features(masked, lex) @ bundle.sev_coef.T)
    np.testing.assert_allclose(bundle.base_logits(masked, lex)[0],
                               sparse + bundle.sev_intercept, atol=1e-4)
    sparse_kind = np.asarray(bundle.kind_features(norms, lex) @ bundle.kind_coef.T)
    np.testing.assert_allclose(bundle.kind_logits(norms, lex),
                               sparse_kind + bundle.kind_intercept, atol=1e-4)



class ClearedMidRead(dict):
    """A per-word cache that another thread clears just as this one reads from it (the
    content check scores in worker threads that share the cache)."""

    cleared = False

    def __getitem__(self, key):
        if not self.cleared:
            self.cleared = True
            self.clear()
        return super().__getitem__(key)


def test_a_cache_cleared_by_another_thread_mid_read_gives_the_same_numbers(classifier):
    vec = classifier.bundle.char
    fast = FastTfidf(vec)
    fast.cache = ClearedMidRead()
    docs = [char_view(prepare(t)[1]) for t in TEXTS]
    np.testing.assert_allclose(fast.transform(docs).toarray(), vec.transform(docs).toarray(),
                               atol=1e-5)
    assert fast.cache.cleared


def test_scoring_with_the_stacker_folded_in_gives_the_stacked_logits(classifier, monkeypatch):
    """Scoring folds the stacker and the lexicon's weights into one set of weights; the
    probabilities must be those of severity_logits and kind_logits, the model as trained,
    and must follow the coefficients when they are replaced (as training does)."""
    from classifiers.features import featurise
    from classifiers.model import at_least, sigmoid, softmax

    bundle = classifier.bundle
    norms, masked, lex = featurise(TEXTS + ["you are a disgusting little rat"] * 2)

    def stacked():
        sev = softmax(bundle.severity_logits(masked, lex) / bundle.temperature)
        kinds = sigmoid(bundle.kind_logits(norms, lex))
        return sev, kinds * at_least(sev)[:, bundle._kind_severity_columns()]

    for want, got in zip(stacked(), bundle._probabilities(norms, masked, lex), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-9)
    monkeypatch.setattr(bundle, "stack_coef", bundle.stack_coef * 0.5)
    monkeypatch.setattr(bundle, "lex_intercept", bundle.lex_intercept + 1.0)
    for want, got in zip(stacked(), bundle._probabilities(norms, masked, lex), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-9)
