"""The compiled scorer (classifiers/_ngrams.c) gives scikit-learn's numbers, on the text
mail really carries and on text built to break it, from several threads at once."""

from __future__ import annotations

import random
import string
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from classifiers.features import char_view, prepare
from classifiers.model import FastTfidf, NgramTable

AWKWARD = [
    "", " ", "\n\n", "a", "_", "x_y __init__ snake_case", "ｆｕｌｌ width Ünïcödé",
    "line\u2028separator\x1cfile\x1dgroup\x85next\u00a0nbsp\u3000ideographic",
    "tabs\tand\x0bvertical\x0cfeeds\rreturns", "日本語のテキストと English mixed",
    "émigré café naïve", "🙂 emoji 🙂🙂 between words", "don't won't can't o'clock",
    "x" * 5000, " ".join(["repeat"] * 2000), "1,000 3.14 10:30 2026-11-29 e-mail",
    "İstanbul ǅemal ß straße",          # lower-casing changes the length of some
]


def _vectorizers(classifier):
    bundle = classifier.bundle
    return {"word": bundle.word, "char": bundle.char, "kind_word": bundle.kind_word}


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " \t\n_'.,!?-éüßж日\u00a0\u2028"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))
            for _ in range(n)]


def test_the_extension_is_built_and_used(classifier):
    """`pip install -e .` compiles it; the Python path is only a fallback."""
    assert NgramTable is not None, "classifiers._ngrams is not built: run pip install -e ."
    for name, vec in _vectorizers(classifier).items():
        assert FastTfidf(vec).compilable, name


@pytest.mark.parametrize("name", ["word", "char", "kind_word"])
def test_compiled_dot_matches_sklearn(classifier, name):
    vec = _vectorizers(classifier)[name]
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((len(vec.idf_), 3)).astype(np.float32)
    prepared = [prepare(t) for t in AWKWARD]
    docs = (AWKWARD + _random_texts(200, seed=1) + [n for n, _ in prepared]
            + [char_view(m) for _, m in prepared])
    expected = np.asarray(vec.transform(docs) @ weights)
    got = FastTfidf(vec).dot(docs, weights)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_many_distinct_words_and_one_huge_word(classifier):
    """Tables that must grow, and a word longer than any n-gram buffer."""
    vec = classifier.bundle.char
    weights = np.ones((len(vec.idf_), 1), np.float32)
    rng = random.Random(2)
    many = " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(6))
                    for _ in range(20_000))
    huge = "ab" * 60_000
    for doc in (many, huge, f"{huge} {many}"):
        # a sum over thousands of features: scikit-learn's float32 sum is the less exact
        np.testing.assert_allclose(FastTfidf(vec).dot([doc], weights),
                                   np.asarray(vec.transform([doc]) @ weights), rtol=1e-5)


def test_scoring_threads_get_the_same_numbers(classifier):
    """The compiled loop runs without the GIL: threads must not disturb one another."""
    texts = _random_texts(64, seed=3) + AWKWARD
    alone = classifier.bundle.score(texts)[0]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda t: classifier.bundle.score([t])[0][0], texts * 4))
    np.testing.assert_allclose(np.vstack(together), np.vstack([alone] * 4), atol=1e-9)


def test_a_table_refuses_weights_of_the_wrong_shape_or_type(classifier):
    vec = classifier.bundle.word
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    idf = np.asarray(vec.idf_, np.float32)
    with pytest.raises(ValueError):
        NgramTable(terms, idf, np.zeros((len(terms), 2), np.float64), 2, "word", 1, 2, True)
    with pytest.raises(ValueError):
        NgramTable(terms, idf, np.zeros((len(terms) - 1, 2), np.float32), 2, "word", 1, 2, True)
    with pytest.raises(ValueError):
        NgramTable(terms, idf, np.zeros((len(terms), 2), np.float32), 2, "char", 1, 2, True)
    with pytest.raises(TypeError):
        NgramTable(terms, idf, np.zeros((len(terms), 2), np.float32), 2, "word", 1, 2,
                   True).dot(b"bytes")


def test_words_remembered_between_texts_give_the_same_numbers(classifier):
    """The char table keeps each word's n-gram ids from one text to the next: a text
    scored again, after other texts, after the memory filled and started again, and
    with words too long to keep, still gets scikit-learn's numbers."""
    vec = classifier.bundle.char
    weights = np.random.default_rng(4).standard_normal((len(vec.idf_), 2)).astype(np.float32)
    table = FastTfidf(vec)              # one table: its memory carries across the calls
    rng = random.Random(5)
    flood = " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(7))
                     for _ in range(40_000))        # more distinct words than it keeps
    long_words = " ".join("w" * n + "x" for n in (39, 40, 41, 80))
    texts = _random_texts(50, seed=6) + AWKWARD + [long_words]
    for docs in (texts, texts[::-1], [flood], texts, [f"{long_words} {t}" for t in texts]):
        np.testing.assert_allclose(table.dot(docs, weights),
                                   np.asarray(vec.transform(docs) @ weights), atol=1e-5)


def test_a_text_too_long_to_count_is_refused_plainly(classifier):
    """Counts are 32-bit: a text with room for more n-grams than that is refused with a
    clear error before anything is copied. With the model's n-gram lengths that is
    hundreds of millions of characters (the gateway scores at most 200,000 a message), so
    a table of n-grams of up to 1,000 words, whose limit is ~1.4 million characters,
    stands in for it."""
    vec = classifier.bundle.word
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    weights = np.ones((len(terms), 1), np.float32)
    table = NgramTable(terms, np.asarray(vec.idf_, np.float32), weights, 1, "word", 1, 1000,
                       True)
    with pytest.raises(ValueError, match="too long"):
        table.dot("a " * 750_000)
    assert len(table.dot("a b c")) == 1          # the table still scores
