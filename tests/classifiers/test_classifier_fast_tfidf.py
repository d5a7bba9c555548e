"""The fast TF-IDF used at inference gives the same numbers as scikit-learn's."""

from __future__ import annotations

import numpy as np

from classifiers.features import char_view, prepare
from classifiers.model import FastTfidf

TEXTS = ["You are a pathetic f*cking loser", "Parents' evening is on Tuesday at 4pm.",
         "", "   ", "Ünïcödé and ｆｕｌｌ width", "word " * 300, "Muslims and Jews in RE class",
         "a b c d e f g", "don't won't can't 1,000 3.14 e-mail x@y.z"]


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
