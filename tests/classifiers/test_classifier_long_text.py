"""A long text's n-gram evidence counts as if the text were `ngram_words` long: an
l2-normalised TF-IDF row's logit grows with the square root of the text's distinct terms,
so a long mail's many small word weights would otherwise add up like a slur in a tweet."""

from __future__ import annotations

import numpy as np

from classifiers.features import featurise
from classifiers.model import at_least, evidence_scale


def test_texts_up_to_the_length_count_in_full_and_longer_ones_by_the_square_root():
    texts = ["", "one", " ".join(["w"] * 60), " ".join(["w"] * 240), " ".join(["w"] * 960)]
    np.testing.assert_allclose(evidence_scale(texts, 60), [1, 1, 1, 0.5, 0.25])
    np.testing.assert_allclose(evidence_scale(texts, None), np.ones(5))


def test_only_the_ngram_logits_of_a_long_text_are_scaled(classifier, monkeypatch):
    """The lexicon features and the intercept count in full whatever the length."""
    bundle = classifier.bundle
    long = "thanks for the minutes from the governors meeting " * 20
    _, masked, lex = featurise([long])
    scaled = bundle.base_logits(masked, lex)[0]
    words = bundle.ngram_words
    monkeypatch.setattr(bundle, "ngram_words", None)
    full = bundle.base_logits(masked, lex)[0]
    fixed = (lex * bundle.lex_scale) @ bundle._weights()["sev_lex"] + bundle.sev_intercept
    s = evidence_scale(masked, words)[0]
    assert s < 1
    np.testing.assert_allclose(scaled - fixed, (full - fixed) * s, atol=1e-6)


CLEAN_LETTER = (
    "Dear parents, the school trip to the museum is on Friday. Please bring a packed lunch "
    "and a coat. The coach leaves at nine and returns at four. Pupils should wear uniform. "
    "Thank you for your support with the reading challenge this term. The library will be "
    "open after school on Tuesdays and Thursdays for anyone who wants to borrow books. "
    "Homework club runs in room 12 on Wednesdays.")
ABUSE = "You are a fucking disgrace and I will kill you, you pathetic loser."
BURIED = CLEAN_LETTER + "\n" + ABUSE + "\nSee you all on Friday."


def _serious(classifier, text: str) -> float:
    return classifier.score([text])[0].at_least["serious"]


def test_one_abusive_sentence_in_a_long_mail_is_not_diluted_away(classifier):
    bundle = classifier.bundle
    norms, masked, lex = featurise([BURIED])
    whole_only = at_least(bundle._probabilities(norms, masked, lex)[0])[0, 2]
    assert whole_only < 0.7                         # scored whole, it would go through
    assert _serious(classifier, BURIED) >= 0.7      # a pupil's copy is held
    assert _serious(classifier, CLEAN_LETTER) < 0.5
    assert classifier.score([BURIED])[0].severity == classifier.score([ABUSE])[0].severity


def test_a_sentence_counts_only_with_a_structure_of_abuse_in_it(classifier, monkeypatch):
    """The same sentence, scored alone, lifts its mail only while the lexicon finds an
    insult, threat, slur or attack in it."""
    from classifiers import model

    assert _serious(classifier, BURIED) >= 0.7
    monkeypatch.setattr(model, "SENTENCE_SUPPORT", [])
    assert _serious(classifier, BURIED) < 0.7


def test_short_texts_score_as_wholes(classifier):
    bundle = classifier.bundle
    texts = [ABUSE, "Parents' evening is on Tuesday.", "I will kill you. You are a loser."]
    norms, masked, lex = featurise(texts)
    np.testing.assert_allclose(bundle.score(texts)[0], bundle._probabilities(
        norms, masked, lex)[0])
