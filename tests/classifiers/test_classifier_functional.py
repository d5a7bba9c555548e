"""The functional checks: never training data, scored as `classify` decides, and shown
in the model card."""

from __future__ import annotations

import json

from classifiers import functional
from classifiers.datasets import dedup_key, load_all
from classifiers.modelcard import write_markdown


def test_no_case_is_in_the_training_data():
    """Not one case, after normalisation, is any source's text (authored included)."""
    examples, _ = load_all()
    seen = {dedup_key(e.text) for e in examples}
    leaked = [c["text"] for c in functional.load_cases() if dedup_key(c["text"]) in seen]
    assert leaked == []


def test_every_case_is_labelled_and_every_behaviour_has_both_sides_covered():
    cases = functional.load_cases()
    assert len(cases) >= 100
    assert all(isinstance(c["offensive"], bool) and c["text"].strip() for c in cases)
    kinds = {c["functionality"]: c["offensive"] for c in cases}
    assert True in kinds.values() and False in kinds.values()
    for c in cases:       # a behaviour is either to be flagged or not, never both
        assert kinds[c["functionality"]] == c["offensive"], c


def test_a_case_is_right_exactly_when_classify_agrees_with_its_label(classifier):
    cases = functional.load_cases()
    result = functional.evaluate(classifier.bundle, {"0.5": 0.5})
    scored = classifier.score([c["text"] for c in cases])
    flagged = [r.at_least["serious"] >= 0.5 for r in scored]
    wrong = [c["text"] for c, f in zip(cases, flagged, strict=True) if f != c["offensive"]]
    assert result["wrong_at_0.5"] == wrong
    assert result["0.5"]["accuracy"] == round(1 - len(wrong) / len(cases), 3)
    per = result["by_functionality"]
    assert sum(r["n"] for r in per.values()) == len(cases)


def test_the_model_card_shows_the_functional_table(classifier, tmp_path):
    from classifiers.modelfile import DEFAULT_MODEL, card_path

    card = json.loads(card_path(DEFAULT_MODEL).read_text())
    result = functional.evaluate(classifier.bundle, {"0.5": 0.5, "pupil hold": 0.7})
    results_file = tmp_path / "functional.json"
    results_file.write_text(json.dumps(result))
    out = tmp_path / "MODEL_CARD.md"
    write_markdown(card, out, functional_file=results_file)
    text = out.read_text()
    assert "### Functional checks (project-written cases, never trained on)" in text
    assert f"| all cases | | | **{result['0.5']['accuracy']:.2f}** |" in text
    assert "| counter_speech | 10 | not flagged |" in text
