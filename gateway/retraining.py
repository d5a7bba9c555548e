"""`aupgate model retrain` and `aupgate model rollback`: the store's labels, handed to
`classifiers.retrain` as plain texts and labels (classifiers/ knows nothing of the store).

A reviewer confirming or correcting a category in the review app leaves a labelled
example (`labels`); a retrain trains on the base data plus those, compares the new and
the installed model on the same held-out data, and installs the new one only if it is
no worse on every severity. Each retrain and rollback is audited; the labels a new
model learnt from are marked with its SHA-256.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    model = subparsers.choices.get("model")
    if model is None:   # the classifier's commands are not installed
        return
    msub = next(a for a in model._actions if isinstance(a, argparse._SubParsersAction))
    p = msub.add_parser("retrain", help="train with the reviewers' labels; install the new "
                                        "model only if it is no worse on every severity")
    p.add_argument("--model", type=Path, default=None,
                   help="the installed model (default: [checks.content] model)")
    p.add_argument("--base", type=Path,
                   help="base training data as JSON lines (text, severity, kinds); default: "
                        "the train split of ../shared/data")
    p.add_argument("--heldout", type=Path,
                   help="held-out data as JSON lines; default: the dev split of "
                        "../shared/data")
    p.add_argument("--small", action="store_true",
                   help="a small, fast training configuration (tests, trials)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="F1 a severity may lose and still count as no worse (default 0)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_retrain)
    p = msub.add_parser("rollback", help="put the previously installed model back")
    p.add_argument("--model", type=Path, default=None)
    p.set_defaults(func=cmd_rollback)


def model_path(args) -> Path:
    if args.model:
        return args.model
    from classifiers.modelfile import DEFAULT_MODEL
    from gateway.cli import config_of

    configured = config_of(args).checks.get("content", {}).get("model", "")
    return config_of(args).resolve(configured) if configured else DEFAULT_MODEL


def labelled_examples(rows) -> list:
    """Store labels as (text, severity, kinds) for the classifier.

    A confirmed or corrected label on content (or safeguarding) gives the text its
    severity; a false positive, or a correction to "none", says the text is clean.
    Labels about other things (a virus, spoofing, the allowlist) say nothing about the
    words and are left out.
    """
    from classifiers.retrain import Labelled
    from classifiers.taxonomy import KIND_BY_CODE

    out = []
    for row in rows:
        text = f"{row.subject}\n{row.text}".strip() if row.subject else row.text
        if not text.strip():
            continue
        kind = KIND_BY_CODE.get(row.category)
        if row.kind == "false_positive" or row.category == "none":
            out.append(Labelled(text, "clean"))
        elif kind is not None:
            out.append(Labelled(text, row.severity or kind.severity, (row.category,)))
        elif row.category in ("content", "safeguarding") and row.severity in (
                "mild", "serious", "gross"):
            out.append(Labelled(text, row.severity))
    return out


async def _labels(store):
    from sqlalchemy import select

    from quarantine.store.reviews import Label

    async with store.session() as session:
        return list((await session.scalars(select(Label).order_by(Label.id))).all())


def cmd_retrain(args) -> int:
    from classifiers.retrain import read_jsonl, retrain
    from classifiers.train import TrainConfig
    from gateway.cli import open_configured_store

    path = model_path(args)

    async def labels():
        store = await open_configured_store(args)
        try:
            return await _labels(store)
        finally:
            await store.close()
    rows = asyncio.run(labels())
    labels_ = labelled_examples(rows)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.base or args.heldout:
        if not (args.base and args.heldout):
            print("aupgate: give both --base and --heldout, or neither", file=sys.stderr)
            return 64
        base, calib = read_jsonl(args.base, "base"), []
        heldout = read_jsonl(args.heldout, "heldout", "dev")
    else:
        from classifiers.datasets import load_all

        examples, _ = load_all()
        base = [e for e in examples if e.split == "train"]
        calib = [e for e in examples if e.split == "calib"]
        heldout = [e for e in examples if e.split == "dev"]
    config = (TrainConfig(word_max_features=5000, char_max_features=5000,
                          kind_max_features=2000, max_iter=200)
              if args.small else TrainConfig())
    outcome = retrain(path, base, labels_, heldout, config=config, calib=calib,
                      tolerance=args.tolerance, log=log)
    asyncio.run(_record(args, outcome, rows))
    summary = {"installed": outcome.installed, "model": str(outcome.model),
               "sha256": outcome.sha256, "labels": outcome.labels_used,
               "reasons": outcome.reasons,
               "heldout_f1": {name: {s: r.get("f1") for s, r in m.get("per_severity", {})
                                     .items() if r.get("support")}
                              for name, m in (("new", outcome.new),
                                              ("current", outcome.current))}}
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0 if outcome.installed else 3
    f1 = summary["heldout_f1"]
    print(f"held-out F1 ({len(heldout)} texts)  new    current")
    for severity in f1["current"]:
        print(f"  {severity:<28} {f1['new'].get(severity, 0):.3f}  "
              f"{f1['current'][severity]:.3f}")
    if outcome.installed:
        print(f"aupgate: installed the retrained model {outcome.sha256[:12]} "
              f"({outcome.labels_used} labels); the previous one is kept for "
              f"`aupgate model rollback`")
    else:
        print("aupgate: kept the current model: the retrained one is worse on held-out data:")
        for reason in outcome.reasons:
            print(f"  {reason}")
    return 0 if outcome.installed else 3


async def _record(args, outcome, rows) -> None:
    from sqlalchemy import update

    from gateway.cli import open_configured_store
    from quarantine.store import audit
    from quarantine.store.reviews import Label

    store = await open_configured_store(args)
    try:
        async with store.transaction() as session:
            if outcome.installed and rows:
                await session.execute(update(Label).where(Label.id.in_([r.id for r in rows]))
                                      .values(used_in_model=outcome.sha256))
            await audit.append(session, actor="cli", action="model.retrain",
                               subject=str(outcome.model),
                               detail={"installed": outcome.installed,
                                       "sha256": outcome.sha256, "labels": outcome.labels_used,
                                       "reasons": outcome.reasons})
    finally:
        await store.close()


def cmd_rollback(args) -> int:
    from classifiers.modelfile import ModelFileError
    from classifiers.retrain import rollback
    from gateway.cli import open_configured_store
    from quarantine.store import audit

    path = model_path(args)
    try:
        card = rollback(path)
    except (ModelFileError, FileNotFoundError) as e:
        print(f"aupgate: cannot roll back: {e}", file=sys.stderr)
        return 1

    async def record():
        store = await open_configured_store(args)
        try:
            async with store.transaction() as session:
                await audit.append(session, actor="cli", action="model.rollback",
                                   subject=str(path), detail={"sha256": card.get("sha256")})
        finally:
            await store.close()
    asyncio.run(record())
    print(f"aupgate: rolled back to model {card.get('sha256', '')[:12]} "
          f"(created {card.get('created', '?')})")
    return 0
