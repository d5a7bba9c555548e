"""A long text's n-gram evidence counts as if the text were `ngram_words` long: an
l2-normalised TF-IDF row's logit grows with the square root of the text's distinct terms,
so a long mail's many small word weights would otherwise add up like a slur in a tweet."""

from __future__ import annotations

import random

import numpy as np

from classifiers import functional, lexicon, model
from classifiers.features import LEX_NAMES, featurise, needed_words, words_of
from classifiers.model import at_least, evidence_scale
from classifiers.normalise import normalise
from tests.support import CLEAN_LETTER, staged_mail


def _functional_texts() -> list[str]:
    return [case["text"] for case in functional.load_cases()]


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
    lex_coef = bundle.sev_coef[:, -lex.shape[1]:]
    fixed = (lex * bundle.lex_scale) @ lex_coef.T + bundle.sev_intercept
    s = evidence_scale(masked, words)[0]
    assert s < 1
    np.testing.assert_allclose(scaled - fixed, (full - fixed) * s, atol=1e-6)


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
    assert _serious(classifier, BURIED) >= 0.7
    monkeypatch.setattr(model, "SENTENCE_SUPPORT", [])
    assert _serious(classifier, BURIED) < 0.7


def test_short_texts_score_as_wholes(classifier):
    bundle = classifier.bundle
    texts = [ABUSE, "Parents' evening is on Tuesday.", "I will kill you. You are a loser."]
    norms, masked, lex = featurise(texts)
    np.testing.assert_allclose(bundle.score(texts)[0], bundle._probabilities(
        norms, masked, lex)[0])


def test_every_text_with_a_structure_of_abuse_holds_a_word_it_needs():
    """The sentence pass counts structures only in sentences holding one of the words
    `needed_words` names; a structure found without one would be missed there."""
    needed = needed_words(model.SENTENCE_STRUCTURES)
    texts = _functional_texts()
    vocabulary = (list(lexicon.PROFANITY) + list(lexicon.SLURS) + list(lexicon.THREAT)
                  + list(lexicon.INSULTS) + list(lexicon.SEXUAL) + list(lexicon.DEHUMANISING)
                  + list(lexicon.NEGATIVE_ATTRIBUTES) + list(lexicon.IDENTITY_TERMS)
                  + "you your he she not no go back to country send them should be".split())
    rng = random.Random(0)
    texts += [" ".join(rng.choice(vocabulary) for _ in range(rng.randrange(1, 12)))
              for _ in range(3000)]
    support = [LEX_NAMES.index(name) for name in model.SENTENCE_STRUCTURES]
    _, _, lex = featurise(texts)
    shown = 0
    for text, counts in zip(texts, lex, strict=True):
        if counts[support].any():
            shown += 1
            assert not needed.isdisjoint(words_of(normalise(text))), text
    assert shown > 1000         # the random texts are dense in structures


def test_sentences_ruled_out_by_their_words_would_not_have_counted(classifier, monkeypatch):
    """Scores are the same when every sentence of a long text is counted and scored."""
    texts = [CLEAN_LETTER + "\n" + line + "\n" + CLEAN_LETTER for line in _functional_texts()]
    sev, kinds, _ = classifier.bundle.score(texts)

    class Everything(frozenset):
        def isdisjoint(self, other) -> bool:
            return False

    monkeypatch.setattr(model, "_SUPPORT_WORDS", Everything())
    every_sev, every_kinds, _ = classifier.bundle.score(texts)
    np.testing.assert_allclose(sev, every_sev)
    np.testing.assert_allclose(kinds, every_kinds)
    assert (at_least(sev)[:, 2] >= model.SENTENCE_THRESHOLD).sum() > 10


def test_sentences_cut_at_literal_led_breaks_are_cut_as_by_the_lookbehind():
    """split_sentences finds its breaks by a pattern each of whose alternatives begins with
    a literal (so that the regex engine skips between them): the same pieces as splitting
    by the lookbehind pattern, on text dense in stops, line breaks and the white space
    \\s knows (some of which str.split("\\n") does not), and on the real mail."""
    import re

    by_lookbehind = re.compile(r"(?<=[.!?])\s+|\n+")
    rng = random.Random(0)
    pieces = ["a", "b", "word", ".", "!", "?", "...", "é.", "\n", "\n", "\n\n", " ", "  ",
              "\t", "\r", "\r\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
             for _ in range(30_000)]
    texts += _functional_texts() + staged_mail()
    for text in texts:
        assert model.split_sentences(text) == by_lookbehind.split(text), repr(text)
