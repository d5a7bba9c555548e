"""Retraining with reviewers' labels: install only a model that is no worse, keep the last.

`retrain` fits a model on the base training data plus labelled examples (texts and
labels handed in by the caller: this package knows nothing of the store), scores the
new model and the installed one on the same held-out examples, and installs the new
one only if its F1 is no lower on any severity present in the held-out data (within
`tolerance`, 0 by default). Otherwise it says, per severity, why, and changes nothing.

Installing keeps the model being replaced in `previous/` beside it, so that `rollback`
can put it back (a second rollback swaps again). Files are written to a staging folder
and moved into place with `os.replace`; a gateway watching the model file
(`classifiers.watch`) loads the new one and swaps it in between messages, and keeps the
old one if it ever reads the pair half-moved (the card's hash would not match).

A label is worth `LABEL_WEIGHT` base examples and is repeated `LABEL_COPIES` times, so
that its words and character n-grams reach the vectorizers' minimum document counts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from classifiers import modelfile
from classifiers.datasets import Example, dedup_key
from classifiers.modelfile import ModelFileError, card_path
from classifiers.taxonomy import KIND_BY_CODE, SEVERITIES

LABEL_WEIGHT = 5.0
LABEL_COPIES = 5
PREVIOUS_DIR = "previous"


@dataclass
class Labelled:
    """One reviewer's label: the text and its Appendix I severity (and kinds)."""

    text: str
    severity: str
    kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        unknown = [k for k in self.kinds if k not in KIND_BY_CODE]
        if unknown:
            raise ValueError(f"unknown kind(s) {unknown}")


@dataclass
class Outcome:
    installed: bool
    reasons: list[str]
    new: dict
    current: dict
    labels_used: int
    model: Path
    sha256: str = ""
    card: dict = field(default_factory=dict)


def label_examples(labels: Iterable[Labelled], heldout: Sequence[Example]) -> list[Example]:
    """Labels as training examples; any whose text is in the held-out data is left out,
    so the comparison never rewards learning the test."""
    held = {dedup_key(e.text) for e in heldout}
    out = []
    for label in labels:
        if dedup_key(label.text) in held:
            continue
        ex = Example(label.text, "labels", label.severity, tuple(label.kinds),
                     f"label:{label.severity}", "train", LABEL_WEIGHT / LABEL_COPIES)
        out.extend([ex] * LABEL_COPIES)
    return out


def compare(new: dict, current: dict, tolerance: float = 0.0) -> list[str]:
    """Why `new` is worse than `current`, per severity present; [] when it is not."""
    reasons = []
    for sev in SEVERITIES:
        c = current.get("per_severity", {}).get(sev, {})
        n = new.get("per_severity", {}).get(sev, {})
        if not c.get("support"):
            continue
        if n.get("f1", 0.0) < c.get("f1", 0.0) - tolerance:
            reasons.append(f"{sev}: F1 {n.get('f1', 0.0):.3f} < current {c['f1']:.3f} "
                           f"(precision {n.get('precision', 0.0):.3f} vs "
                           f"{c.get('precision', 0.0):.3f}, recall {n.get('recall', 0.0):.3f} "
                           f"vs {c.get('recall', 0.0):.3f}, {c['support']} held-out texts)")
    return reasons


def retrain(model_path: Path, base: Sequence[Example], labels: Sequence[Labelled],
            heldout: Sequence[Example], *, config=None, calib: Sequence[Example] = (),
            tolerance: float = 0.0, log: Callable[[str], None] = print) -> Outcome:
    from classifiers.evaluate import report
    from classifiers.train import TrainConfig, fit, library_versions

    config = config or TrainConfig()
    model_path = Path(model_path)
    extra = label_examples(labels, heldout)
    log(f"training on {len(base)} base examples and {len(extra) // LABEL_COPIES} labels")
    bundle = fit(list(base) + extra, config, calib, log=log)
    new = report(bundle, heldout, "new model")
    try:
        current_bundle, current_card = modelfile.load(model_path)
        current = report(current_bundle, heldout, "current model")
    except ModelFileError as e:
        if model_path.exists():
            raise   # a model is installed but unusable: say so, do not paper over it
        log(f"no current model ({e}); installing the new one")
        current_card, current = {}, {}
    reasons = compare(new, current, tolerance)
    outcome = Outcome(not reasons, reasons, new, current, len(extra) // LABEL_COPIES,
                      model_path)
    if reasons:
        return outcome
    card = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "train_config": asdict(config),
        "retrained_from": current_card.get("sha256", ""),
        "labels": outcome.labels_used,
        "label_weight": LABEL_WEIGHT,
        "base_examples": len(base),
        "heldout_metrics": {"new": new, "replaced": current},
        "temperature": bundle.temperature,
        "note": "retrained with reviewers' labels (aupgate model retrain)",
    }
    for key in ("mapping", "sizes", "authored_note"):
        if key in current_card:
            card[key] = current_card[key]
    outcome.card = install(bundle, model_path, card)
    outcome.sha256 = outcome.card["sha256"]
    return outcome


def _pair(path: Path) -> tuple[Path, Path]:
    return path, card_path(path)


def install(bundle, model_path: Path, card: dict) -> dict:
    """Save `bundle` as the model at `model_path`; the one it replaces goes to previous/."""
    model_path = Path(model_path)
    staging = model_path.parent / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    written = modelfile.save(bundle, staging / model_path.name, card)
    if model_path.exists():
        previous = model_path.parent / PREVIOUS_DIR
        previous.mkdir(exist_ok=True)
        for src in _pair(model_path):
            if src.exists():
                shutil.copy2(src, previous / src.name)
    new_model, new_card = _pair(staging / model_path.name)
    os.replace(new_card, card_path(model_path))
    os.replace(new_model, model_path)
    shutil.rmtree(staging, ignore_errors=True)
    return written


def rollback(model_path: Path) -> dict:
    """Put the previous model back (the current one becomes the previous)."""
    model_path = Path(model_path)
    previous = model_path.parent / PREVIOUS_DIR / model_path.name
    _, card = modelfile.load(previous)   # refuse to roll back to a broken file
    staging = model_path.parent / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for src in _pair(model_path):
        shutil.copy2(src, staging / src.name)
    os.replace(card_path(previous), card_path(model_path))
    os.replace(previous, model_path)
    for src in _pair(staging / model_path.name):
        os.replace(src, previous.parent / src.name)
    shutil.rmtree(staging, ignore_errors=True)
    return card


def read_jsonl(path: Path, source: str, split: str = "train") -> list[Example]:
    """Examples from JSON lines with `text`, `severity` and optional `kinds`."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(Example(row["text"], source, row["severity"],
                               tuple(row.get("kinds", ())), f"{source}:{row['severity']}",
                               split, float(row.get("weight", 1.0))))
    return out
