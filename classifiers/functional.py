"""Functional checks: short project-written cases, one behaviour each, that a filter for
a school must get right whatever source its training text came from.

PROJECT-WRITTEN, NEVER TRAINED ON. `functional_cases.jsonl` holds 118 sentences, each
with the behaviour it tests and whether Appendix I calls it offensive (serious or gross):
slurs, threats, dehumanisation, derogation, spelling evasions, abuse aimed at a person,
sexual content and incitement must be flagged; neutral and positive mentions of groups,
counter-speech that quotes abuse to condemn it, negated statements, attacks on things
rather than people, and innocent uses of lexicon words ("kill the lights", "Scunthorpe")
must not be. They were written without looking at any model's scores on them, and nothing
reads them in training (`classifiers.datasets` does not know this folder). Being written
by the same project as the lexicon, they are a check, not independent evidence: the
independent figures are the leave-one-source-out ones.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from classifiers.model import Bundle

CASES_FILE = Path(__file__).resolve().parent / "functional_cases.jsonl"


def load_cases(path: Path = CASES_FILE) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate(bundle: Bundle, thresholds: dict[str, float], cases: list[dict] | None = None
             ) -> dict:
    """Accuracy per behaviour and overall: a case is right when "flagged" (P(serious or
    worse) >= the threshold) agrees with its label. One row per threshold given."""
    cases = load_cases() if cases is None else cases
    sev, _, _ = bundle.score([c["text"] for c in cases])
    serious_or_worse = sev[:, 2:].sum(axis=1)
    out: dict = {"n": len(cases), "thresholds": thresholds, "by_functionality": {}}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cases):
        groups[c["functionality"]].append(i)
    truth = np.array([bool(c["offensive"]) for c in cases])
    for name, threshold in thresholds.items():
        right = (serious_or_worse >= threshold) == truth
        out[name] = {"accuracy": round(float(right.mean()), 3),
                     "offensive_recall": round(float(right[truth].mean()), 3),
                     "clean_specificity": round(float(right[~truth].mean()), 3)}
        for func, idx in groups.items():
            row = out["by_functionality"].setdefault(
                func, {"n": len(idx), "offensive": bool(truth[idx[0]])})
            row[name] = round(float(right[idx].mean()), 3)
    out["wrong_at_0.5"] = [cases[i]["text"] for i in np.flatnonzero(
        (serious_or_worse >= 0.5) != truth)]
    return out


def format_table(result: dict) -> list[str]:
    names = list(result["thresholds"])
    head = " | ".join(f"right @{n}" for n in names)
    rows = [f"| behaviour | n | should be | {head} |",
            "| --- | ---: | --- |" + " ---: |" * len(names)]
    for func, r in result["by_functionality"].items():
        cells = " | ".join(f"{r[n]:.2f}" for n in names)
        rows.append(f"| {func} | {r['n']} | {'flagged' if r['offensive'] else 'not flagged'} "
                    f"| {cells} |")
    for label, key in (("all cases", "accuracy"), ("offensive flagged (recall)",
                                                   "offensive_recall"),
                       ("clean left alone", "clean_specificity")):
        cells = " | ".join(f"**{result[n][key]:.2f}**" for n in names)
        rows.append(f"| {label} | | | {cells} |")
    return rows
