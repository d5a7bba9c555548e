"""The functional checks: never training data, scored as `classify` decides, and shown
in the model card."""

from __future__ import annotations

import json

from classifiers import functional
from classifiers.datasets import dedup_key, load_all
from classifiers.modelcard import write_markdown
from classifiers.modelfile import DEFAULT_MODEL, card_path


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


LETTER = ("Dear parents, the school trip to the museum is on Friday. Please bring a packed "
          "lunch and a coat.\nThe coach leaves at nine and returns at four. Pupils should "
          "wear uniform.\n") * 6


def test_a_case_is_buried_in_the_middle_of_its_host_on_a_line_of_its_own():
    host = "one\ntwo\nthree\nfour"
    assert functional.bury("the case", host) == "one\ntwo\nthe case\nthree\nfour"


def test_buried_cases_are_counted_against_the_same_cases_alone(classifier, tmp_path):
    """One abusive line in a long letter is held as it is alone; a clean one is not; a
    short host is not used."""
    cases = [{"text": "You are a fucking disgrace and I will kill you, you pathetic loser.",
              "offensive": True, "functionality": "abuse_at_person"},
             {"text": "The netball fixture is moved to Thursday.", "offensive": False,
              "functionality": "neutral_group"}]
    result = functional.buried(classifier.bundle, [LETTER, "too short to be a host"], 0.7,
                               cases)
    assert result["hosts"] == 1 and result["hosts_flagged"] == 0.0
    assert result["offensive"] == {"n": 1, "flagged_buried": 1.0, "flagged_alone": 1.0}
    assert result["clean"] == {"n": 1, "flagged_buried": 0.0, "flagged_alone": 0.0}

    results_file = tmp_path / "functional.json"
    results_file.write_text(json.dumps(
        functional.evaluate(classifier.bundle, {"0.5": 0.5}, cases) | {"buried": result}))
    out = tmp_path / "MODEL_CARD.md"
    write_markdown(json.loads(card_path(DEFAULT_MODEL).read_text()), out,
                   functional_file=results_file)
    assert "offensive cases 100.0% buried against 100.0% alone" in out.read_text()
