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

`buried` puts the same cases among the lines of long clean real mail (the SpamAssassin
ham's dev half, never trained on): scored whole, one abusive line in a long mail is
diluted to nothing, and `Bundle` scores such a mail's sentences too.
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


LONG_MAIL_WORDS = 150     # a host mail is longer than this


def bury(line: str, host: str) -> str:
    """`line` on a line of its own in the middle of `host`."""
    lines = host.split("\n")
    middle = len(lines) // 2
    return "\n".join(lines[:middle] + [line] + lines[middle:])


def buried(bundle: Bundle, hosts: list[str], threshold: float,
           cases: list[dict] | None = None) -> dict:
    """Each case in the middle of a long clean mail (the hosts over LONG_MAIL_WORDS words,
    each used once or more, the cases in turn): the share flagged (P(serious or worse) >=
    `threshold`) buried, against the same cases alone, for the offensive cases and for the
    clean ones; and the share of the hosts flagged alone."""
    cases = load_cases() if cases is None else cases
    hosts = [h for h in hosts if len(h.split()) > LONG_MAIL_WORDS]
    out: dict = {"threshold": threshold, "hosts": len(hosts)}
    if not hosts:
        return out

    def flagged(texts: list[str]) -> np.ndarray:
        sev, _, _ = bundle.score(texts)
        return sev[:, 2:].sum(axis=1) >= threshold

    out["hosts_flagged"] = round(float(flagged(hosts).mean()), 4)
    for label, offensive in (("offensive", True), ("clean", False)):
        lines = [c["text"] for c in cases if bool(c["offensive"]) == offensive]
        pairs = [(lines[i % len(lines)], hosts[i % len(hosts)])
                 for i in range(max(len(lines), len(hosts)))]
        in_mail = flagged([bury(line, host) for line, host in pairs])
        alone = flagged([line for line, _ in pairs])
        out[label] = {"n": len(pairs), "flagged_buried": round(float(in_mail.mean()), 4),
                      "flagged_alone": round(float(alone.mean()), 4)}
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
