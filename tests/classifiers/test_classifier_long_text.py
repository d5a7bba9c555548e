"""A long text's n-gram evidence counts as if the text were `ngram_words` long: an
l2-normalised TF-IDF row's logit grows with the square root of the text's distinct terms,
so a long mail's many small word weights would otherwise add up like a slur in a tweet."""

from __future__ import annotations

import numpy as np

from classifiers.features import featurise
from classifiers.model import evidence_scale


def test_texts_up_to_the_length_count_in_full_and_longer_ones_by_the_square_root():
    texts = ["", "one", " ".join(["w"] * 60), " ".join(["w"] * 240), " ".join(["w"] * 960)]
    np.testing.assert_allclose(evidence_scale(texts, 60), [1, 1, 1, 0.5, 0.25])
    np.testing.assert_allclose(evidence_scale(texts, None), np.ones(5))


def test_only_the_ngram_logits_of_a_long_text_are_scaled(classifier):
    """The lexicon features and the intercept count in full whatever the length."""
    bundle = classifier.bundle
    long = "thanks for the minutes from the governors meeting " * 20
    _, masked, lex = featurise([long])
    scaled = bundle.base_logits(masked, lex)[0]
    words = bundle.ngram_words
    bundle.ngram_words = None
    try:
        full = bundle.base_logits(masked, lex)[0]
    finally:
        bundle.ngram_words = words
    fixed = (lex * bundle.lex_scale) @ bundle._weights()["sev_lex"] + bundle.sev_intercept
    s = evidence_scale(masked, words)[0]
    assert s < 1
    np.testing.assert_allclose(scaled - fixed, (full - fixed) * s, atol=1e-6)
