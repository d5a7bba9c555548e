"""Evaluation: the code that produces every number in the model card.

On data the model never saw: each source's dev split, the clean-mail hold rate on the
SpamAssassin ham dev half, and leave-one-source-out (train on all other sources,
test on the whole of the one left out). Project-written text is never evaluated on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from classifiers.datasets import Example
from classifiers.model import Bundle, at_least
from classifiers.taxonomy import KIND_CODES, SEVERITIES

# A text's severity: the highest level whose cumulative probability P(severity >= level)
# reaches its threshold. The same rule is used by `inference.Classifier`.
DEFAULT_THRESHOLDS = {"mild": 0.5, "serious": 0.5, "gross": 0.5}
# The content check's default thresholds per audience (gateway/checks/content.py
# Settings): a pupil's mail is held from "serious", a staff member's from "gross".
HOLD_THRESHOLDS = {"pupil": {"mild": 0.5, "serious": 0.7, "gross": 0.7},
                   "staff": {"mild": 0.6, "serious": 0.8, "gross": 0.8}}


def decide(sev: np.ndarray, thresholds: dict[str, float] | None = None) -> np.ndarray:
    th = thresholds or DEFAULT_THRESHOLDS
    cum = at_least(sev)
    out = np.zeros(len(sev), dtype=int)
    for level in (1, 2, 3):
        out[cum[:, level] >= th[SEVERITIES[level]]] = level
    return out


def prf(y_true: np.ndarray, y_pred: np.ndarray, label) -> tuple[float, float, float, int]:
    tp = int(np.sum((y_true == label) & (y_pred == label)))
    fp = int(np.sum((y_true != label) & (y_pred == label)))
    fn = int(np.sum((y_true == label) & (y_pred != label)))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, int(np.sum(y_true == label))


def ece(prob: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-class probability."""
    conf = prob.max(axis=1)
    correct = prob.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(total)


def binary(y: np.ndarray, flagged: np.ndarray) -> dict:
    """Offensive (1) vs not: accuracy, macro-F1 (the one class's F1 where `y` has one) and
    the share flagged."""
    f_pos, f_neg = prf(y, flagged, 1)[2], prf(y, flagged, 0)[2]
    return {"accuracy": round(float(np.mean(y == flagged)), 3),
            "macro_f1": round((f_pos + f_neg) / 2 if y.min() != y.max() else
                              max(f_pos, f_neg), 3),
            "flag_rate": round(float(flagged.mean()), 4)}


def report(bundle: Bundle, examples: Sequence[Example], name: str) -> dict:
    if not examples:
        return {"name": name, "n": 0}
    sev, kinds, _ = bundle.score([e.text for e in examples])
    y = np.array([SEVERITIES.index(e.severity) for e in examples])
    pred = decide(sev)
    out: dict = {"name": name, "n": len(examples)}
    per = {}
    for i, s in enumerate(SEVERITIES):
        p, r, f, n = prf(y, pred, i)
        per[s] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
                  "support": n}
    out["per_severity"] = per
    present = [s for s in SEVERITIES if per[s]["support"]]
    out["macro_f1_4class"] = round(float(np.mean([per[s]["f1"] for s in present])), 3)
    # Binary: offensive (serious or gross: what a pupil's mail is held for) vs not.
    yb = (y >= 2).astype(int)
    out["binary_offensive"] = binary(yb, (pred >= 2).astype(int)) | {"positives": int(yb.sum())}
    if yb.min() != yb.max():    # threshold-free: how well P(serious or worse) ranks the texts
        out["binary_offensive"]["auc"] = round(float(roc_auc_score(yb, at_least(sev)[:, 2])), 3)
    # At the gateway's pupil threshold (what is actually held for a pupil).
    held = (at_least(sev)[:, 2]
            >= HOLD_THRESHOLDS["pupil"]["serious"]).astype(int)
    out["binary_offensive_at_pupil_threshold"] = binary(yb, held)
    out["confusion"] = {SEVERITIES[i]: [int(np.sum((y == i) & (pred == j))) for j in range(4)]
                        for i in range(4)}
    out["ece"] = round(ece(sev, y), 3)
    kind_rows = {}
    for k, code in enumerate(KIND_CODES):
        yk = np.array([code in e.kinds for e in examples])
        if yk.sum() == 0:
            continue
        pk = kinds[:, k] >= 0.5
        p, r, f, n = prf(yk.astype(int), pk.astype(int), 1)
        kind_rows[code] = {"precision": round(p, 3), "recall": round(r, 3),
                           "f1": round(f, 3), "support": n}
    out["per_kind"] = kind_rows
    return out


def hold_rates(bundle: Bundle, examples: Sequence[Example],
               thresholds: dict[str, dict[str, float]]) -> dict:
    """Share of clean texts that would be held, per audience thresholds."""
    sev, _, _ = bundle.score([e.text for e in examples])
    cum = at_least(sev)
    out = {"n": len(examples)}
    for audience, th in thresholds.items():
        held = (cum[:, 2] >= th["serious"]) if audience == "pupil" else (
            cum[:, 3] >= th["gross"])
        tagged = cum[:, 1] >= th["mild"]
        out[audience] = {"held": round(float(held.mean()), 4), "held_count": int(held.sum()),
                         "tagged_or_more": round(float(tagged.mean()), 4)}
    return out


# The share of clean mail a pupil's copy may be held for (the issue's bar).
CLEAN_MAIL_BAR = 0.005


def at_clean_mail_bar(bundle: Bundle, examples: Sequence[Example], ham: Sequence[Example],
                      bar: float = CLEAN_MAIL_BAR) -> dict:
    """Offensive-vs-not on `examples` flagged at the lowest threshold on P(serious or worse)
    that holds at most `bar` of `ham` (clean mail the model never saw): a trial that lifts
    the figures at a fixed threshold by moving mail towards offensive gains nothing here."""
    def serious(rows: Sequence[Example]) -> np.ndarray:
        return at_least(bundle.score([e.text for e in rows])[0])[:, 2]

    ham_p = np.sort(serious(ham))[::-1]
    threshold = float(np.nextafter(ham_p[int(bar * len(ham_p))], 1.0))
    flagged = (serious(examples) >= threshold).astype(int)
    y = np.array([SEVERITIES.index(e.severity) >= 2 for e in examples]).astype(int)
    # the threshold unrounded: rounded down, it would hold clean mail it is said not to
    return {"threshold": threshold, "ham_n": len(ham_p),
            "ham_held": int((ham_p >= threshold).sum()),
            "macro_f1": binary(y, flagged)["macro_f1"],
            "recall": round(prf(y, flagged, 1)[1], 3)}


def format_report(r: dict) -> str:
    if not r.get("n"):
        return f"{r['name']}: no examples"
    lines = [f"== {r['name']} (n={r['n']})"]
    b = r["binary_offensive"]
    lines.append(f"  offensive vs not: accuracy {b['accuracy']:.3f}  macro-F1 {b['macro_f1']:.3f}"
                 f"  flagged {b['flag_rate']:.2%}  positives {b['positives']}")
    auc = f"  AUC {b['auc']:.3f}" if "auc" in b else ""
    lines.append(f"  4-class macro-F1 {r['macro_f1_4class']:.3f}  ECE {r['ece']:.3f}{auc}")
    lines.append("  severity    prec   rec    f1     n")
    for s, m in r["per_severity"].items():
        lines.append(f"  {s:<10} {m['precision']:.3f} {m['recall']:.3f} {m['f1']:.3f} "
                     f"{m['support']:>6}")
    lines.append("  confusion (rows true, cols predicted: " + " ".join(SEVERITIES) + ")")
    for s, row in r["confusion"].items():
        lines.append(f"  {s:<10} " + " ".join(f"{v:>6}" for v in row))
    if r["per_kind"]:
        lines.append("  kind                      prec   rec    f1     n")
        for k, m in r["per_kind"].items():
            lines.append(f"  {k:<24} {m['precision']:.3f} {m['recall']:.3f} {m['f1']:.3f} "
                         f"{m['support']:>6}")
    return "\n".join(lines)


def leave_one_source_out(sources: Sequence[str], log=print, config=None) -> dict:
    """Train on every source but one (and the authored set), test on all of the one."""
    from classifiers.datasets import load_all
    from classifiers.train import TrainConfig, fit

    examples, _ = load_all()
    ham_dev = [e for e in examples if e.source == "spamassassin_ham" and e.split == "dev"]
    out = {}
    for held in sources:
        log(f"leave out {held}")
        train = [e for e in examples if e.source != held and e.split == "train"]
        calib = [e for e in examples if e.source != held and e.split == "calib"]
        test = [e for e in examples if e.source == held]
        bundle = fit(train, config or TrainConfig(), calib, log=log)
        out[held] = report(bundle, test, f"{held} (left out)")
        if held == "spamassassin_ham":
            out["clean_mail_hold_left_out"] = hold_rates(bundle, test, HOLD_THRESHOLDS)
        elif ham_dev:
            out[held]["at_clean_mail_bar"] = at_clean_mail_bar(bundle, test, ham_dev)
        log(format_report(out[held]))
    return out


def identity_bias(bundle: Bundle, examples: Sequence[Example]) -> dict:
    """Identity-term bias on real text: how often texts labelled clean are flagged when they
    name a group (Muslim, Jewish, gay, disabled, Black, immigrant, …) versus when they
    do not. Gender words are counted apart: EDOS is about women throughout."""
    import re

    from classifiers.features import _GENDER, _PROTECTED
    from classifiers.lexicon import SLURS
    from classifiers.normalise import normalise

    clean = [e for e in examples if e.severity == "clean"]
    groups: dict[str, list[Example]] = {"names a group": [], "names a gender only": [],
                                        "names no group": []}
    for e in clean:
        words = set(re.findall(r"[a-z0-9']+", normalise(e.text)))
        if words & (_PROTECTED - frozenset(SLURS)):
            groups["names a group"].append(e)
        elif words & _GENDER:
            groups["names a gender only"].append(e)
        else:
            groups["names no group"].append(e)
    out = {}
    for name, rows in groups.items():
        if not rows:
            continue
        sev, _, _ = bundle.score([e.text for e in rows])
        cum = at_least(sev)
        out[name] = {"n": len(rows),
                     "flagged_at_0.5": round(float((cum[:, 2] >= 0.5).mean()), 4),
                     "held_for_pupil": round(float(
                         (cum[:, 2] >= HOLD_THRESHOLDS["pupil"]["serious"]).mean()), 4)}
    return out
