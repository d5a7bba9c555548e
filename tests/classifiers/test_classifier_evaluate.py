"""The evaluation that writes the model card's numbers, checked against scikit-learn's
metrics on what `classify` says of the same texts."""

from __future__ import annotations

import json

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from classifiers import functional
from classifiers.datasets import Example
from classifiers.evaluate import (
    CLEAN_MAIL_BAR,
    HOLD_THRESHOLDS,
    at_clean_mail_bar,
    hold_rates,
    report,
)
from classifiers.modelcard import write_markdown
from classifiers.modelfile import DEFAULT_MODEL, card_path
from classifiers.taxonomy import SEVERITIES


def _examples() -> list[Example]:
    return [Example(c["text"], "functional", "gross" if c["offensive"] else "clean", (),
                    c["functionality"], "dev") for c in functional.load_cases()]


def test_a_report_is_what_classify_says_counted_by_scikit_learn(classifier):
    examples = _examples()
    r = report(classifier.bundle, examples, "functional")
    scored = classifier.score([e.text for e in examples])
    y = [SEVERITIES.index(e.severity) for e in examples]
    pred = [SEVERITIES.index(s.severity) for s in scored]
    assert [r["confusion"][s] for s in SEVERITIES] == confusion_matrix(
        y, pred, labels=range(4)).tolist()
    offensive, flagged = np.array(y) >= 2, np.array(pred) >= 2
    b = r["binary_offensive"]
    assert b["macro_f1"] == round(f1_score(offensive, flagged, average="macro"), 3)
    assert b["positives"] == int(offensive.sum())
    assert b["auc"] == round(roc_auc_score(offensive, [s.at_least["serious"] for s in scored]),
                             3)
    assert r["per_severity"]["gross"]["f1"] == round(f1_score(y, pred, labels=[3],
                                                              average="macro"), 3)
    held = np.array([s.at_least["serious"] for s in scored]) >= HOLD_THRESHOLDS["pupil"]["serious"]
    assert r["binary_offensive_at_pupil_threshold"]["macro_f1"] == round(
        f1_score(offensive, held, average="macro"), 3)


def test_one_class_has_no_auc_and_clean_text_held_is_counted(classifier):
    clean = [e for e in _examples() if e.severity == "clean"]
    r = report(classifier.bundle, clean, "clean only")
    assert "auc" not in r["binary_offensive"]
    rates = hold_rates(classifier.bundle, clean, HOLD_THRESHOLDS)
    serious = [s.at_least["serious"] for s in classifier.score([e.text for e in clean])]
    held = sum(p >= HOLD_THRESHOLDS["pupil"]["serious"] for p in serious)
    assert rates["pupil"]["held_count"] == held and rates["n"] == len(clean)


def test_the_card_shows_dev_figures_measured_now_where_evaluate_wrote_them(tmp_path):
    """The card's dev figures come from `model evaluate` when it has run (the scoring code
    may have changed since training), else from training; the card says which."""
    card = json.loads(card_path(DEFAULT_MODEL).read_text())
    out = tmp_path / "MODEL_CARD.md"
    write_markdown(card, out)
    assert "Measured at training." in out.read_text()
    dev = dict(card["dev_metrics"])
    dev["clean_mail_hold"] = {"n": 441, "pupil": {"held": 0.0068, "held_count": 3},
                              "staff": {"held": 0.0, "held_count": 0}}
    dev_file = tmp_path / "dev.json"
    dev_file.write_text(json.dumps(dev))
    write_markdown(card, out, dev_file=dev_file)
    text = out.read_text()
    assert "Measured by `aupgate model evaluate`" in text
    assert "n = 441): pupil thresholds 0.68% (3)" in text


def test_at_the_clean_mail_bar_no_more_than_the_bar_of_clean_mail_is_held(classifier):
    """The threshold is the lowest that holds at most 0.5 % of the clean mail given; the
    offensive-vs-not figures are those at that threshold."""
    examples = _examples()
    mail = [e for e in examples if e.severity == "clean"] * 3       # each "mail" thrice
    r = at_clean_mail_bar(classifier.bundle, examples, mail)
    clean_p = [s.at_least["serious"] for s in classifier.score([e.text for e in mail])]
    held = sum(p >= r["threshold"] for p in clean_p)
    assert held == r["ham_held"] <= CLEAN_MAIL_BAR * len(mail)
    assert sum(p >= r["threshold"] * 0.999 for p in clean_p) > CLEAN_MAIL_BAR * len(mail)
    offensive = [e.severity == "gross" for e in examples]
    flagged = [s.at_least["serious"] >= r["threshold"]
               for s in classifier.score([e.text for e in examples])]
    assert r["macro_f1"] == round(f1_score(offensive, flagged, average="macro"), 3)
