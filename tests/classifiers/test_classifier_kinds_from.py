"""Kinds are worked out only where a threshold could report one (`kinds_from`): a text
at or over it gets the very kinds it would get otherwise, a text under it none, and its
severities do not change. The gateway asks from its lowest threshold, so that most mail
is spared the kind model."""

from __future__ import annotations

import pytest

from classifiers import functional
from classifiers.inference import Result
from tests.support import CLEAN_LETTER


def _texts() -> list[str]:
    """Short cases, offensive and not, and each buried in a long mail (where the sentence
    pass may give the mail a sentence's scores and kinds)."""
    cases = [case["text"] for case in functional.load_cases()]
    return cases + [f"{CLEAN_LETTER}\n{case}\n{CLEAN_LETTER}" for case in cases]


def _same_but_kinds(a: Result, b: Result) -> bool:
    return (a.severity, a.probability, a.severities, a.at_least, a.evidence) == (
        b.severity, b.probability, b.severities, b.at_least, b.evidence)


@pytest.mark.parametrize("kinds_from", [0.3, 0.5, 0.8])
def test_kinds_are_the_same_where_worked_out_and_absent_under_the_floor(classifier,
                                                                        kinds_from):
    texts = _texts()
    every = classifier.score(texts, explain=True)
    some = classifier.score(texts, explain=True, kinds_from=kinds_from)
    over = 0
    for text, full, floored in zip(texts, every, some, strict=True):
        assert _same_but_kinds(full, floored), text
        assert full.kinds and all(p <= full.at_least["mild"] for p in full.kinds.values())
        if full.at_least["mild"] >= kinds_from:
            over += 1
            assert floored.kinds == full.kinds, text       # exactly, not nearly
        else:
            assert floored.kinds == {}, text
    assert 20 < over < len(texts) - 20      # both sides of the floor are exercised
    buried = [r for r in some[len(texts) // 2:] if r.kinds]
    assert buried, "no long mail was lifted by a sentence over the floor"

