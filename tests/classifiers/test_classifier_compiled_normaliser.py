"""The normaliser's compiled word-level steps (classifiers/_normalise.c) give what the
Python steps give (`normalise._tidy`), on the labelled text the model trains on, on real
mail, and on text built to hit every rule at once: repeats, spaced runs, masks, leetspeak,
punctuation around and inside words, every kind of whitespace and characters beyond
ASCII."""

from __future__ import annotations

import random
from itertools import islice

import pytest

from classifiers import datasets, normalise
from classifiers.mailtext import from_raw

PIECES = (list("abcfiknstuxyzABF019@$!|+*#%_ ") + list(" .-_,/") * 2
          + ["\n", "\t", "\x0b", "\x1c", "\x1f", "\r", "(", ")", "'", '"', ":", "?", "&", "~"]
          + ["fuck", "f*ck", "f**k", "f***", "sh1t", "sh!t", "b!tch", "@ss", "h8", "l8r", "kys",
             "u", "ur", "stfu", "fuuuck", "shiit", "a s s", "f u c k i n g", "a f u c k i n g",
             "s.h.i.t", "3pm", "2nd", "12:30", "1,000.5", "mp3", "win10", "n***a", "***",
             "!!!", "aaaa", "hello!", "(idiot),", "'cunt'", "k1ll", "1d10t", "xx_yy", "a_b_c",
             # punctuation or digits inside a word, but no mask or leet character
             "well-known", "and/or", "isn't", "o'clock", "co-op", "2day", "26", "win2k",
             "2266", "6-pack", "shii-t", "fuu-ck", "a--b", "x.y.z", "bee-keeper", "a:b",
             "2005,", "00", "5.2", "1-0", "(07)", "10:45:00", "911"])


def _built_texts(n: int, seed: int, extra: list[str] = ()) -> list[str]:
    rng = random.Random(seed)
    pieces = PIECES + list(extra) * 3
    return ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60)))
            for _ in range(n)]


def _real_texts() -> list[str]:
    texts = []
    for load in (datasets.load_davidson, datasets.load_olid, datasets.load_edos,
                 datasets.load_stormfront, datasets.load_cyberbullying):
        texts += [e.text for e in islice(load(), 2500)]
    for path in datasets.ham_files()[:300]:
        texts.append(from_raw(path.read_bytes()).sent)
    return texts


def _assert_same(texts: list[str]) -> None:
    for text in texts:
        ready = normalise.strip_artefacts(normalise.fold_confusables(text))
        assert normalise._tidy_compiled(ready) == normalise._tidy(ready), repr(ready[:300])


def test_the_extension_is_built_and_used():
    """`pip install -e .` compiles it; the Python steps are the fallback and the reference."""
    assert normalise._tidy_compiled is not None, (
        "classifiers._normalise is not built: run pip install -e .")


def test_compiled_steps_match_python_on_real_text():
    _assert_same(_real_texts())


@pytest.mark.parametrize("seed", range(3))
def test_compiled_steps_match_python_on_built_text(seed):
    _assert_same(_built_texts(6000, seed))


def test_long_runs_and_long_words():
    """Runs that fail late, a word past any buffer, repeats past any count."""
    texts = ["a " * 50_000 + "b", "a_" * 50_000 + "b", "x." * 30_000 + "yz", "f" + "u" * 100_000
             + "ck", "ab" * 100_000, "*" * 10_000 + "a", "f*" * 5000, "!" * 70_000,
             " ".join(f"w{i}rd" for i in range(20_000)), "\x1c\x1d\x1e\x1f \t\n\r\x0b\x0c"]
    _assert_same(texts)


def test_text_beyond_ascii():
    """What folding leaves: accents it could not fold, other scripts, symbols, mojibake,
    Unicode whitespace and word characters beside ASCII runs and masks."""
    _assert_same(_built_texts(3000, 7, extra=["é", "¿", "⁄", "£5", "\ufffd", "日本", "ж",
                                               "\u00a0", "\u2028", "\u3000", "٣", "²",
                                               "f*ck£", "é.é.é", "a.é.b.c", "ǅ"]))
    assert normalise.normalise("Ｆ*ＣＫ yоu £5 café") == "fuck you £5 cafe"


def test_a_tidier_not_set_up_refuses_text():
    bare = normalise.Tidier.__new__(normalise.Tidier)
    with pytest.raises(RuntimeError):
        bare("text")
    with pytest.raises(TypeError):
        normalise._tidy_compiled("text", extra=1)
