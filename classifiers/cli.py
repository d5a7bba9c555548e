"""`aupgate model train|evaluate` and `aupgate classify`.

The gateway's CLI calls `register(subparsers)`; for use without it:
    python -m classifiers.cli classify < texts.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from classifiers.modelfile import DEFAULT_MODEL, ModelFileError

MODELS_DIR = DEFAULT_MODEL.parent
LOSO_FILE = MODELS_DIR / "loso.json"
BIAS_FILE = MODELS_DIR / "identity_bias.json"
FUNCTIONAL_FILE = MODELS_DIR / "functional.json"
DEV_FILE = MODELS_DIR / "dev.json"       # each source's dev split and the ham's dev half


def register(subparsers) -> None:
    model = subparsers.add_parser("model", help="train or evaluate the Appendix I classifier")
    msub = model.add_subparsers(dest="model_command", required=True)

    train = msub.add_parser("train", help="train from ../shared/data and save a model + card")
    train.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    train.add_argument("--no-card-md", action="store_true",
                       help="do not rewrite models/MODEL_CARD.md")
    train.set_defaults(func=cmd_train)

    ev = msub.add_parser("evaluate", help="metrics on data the model never saw")
    ev.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ev.add_argument("--loso", action="store_true",
                    help="also leave-one-source-out (trains one model per source, slow)")
    ev.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ev.add_argument("--write-card", action="store_true",
                    help="save identity-bias and functional-check results and rewrite "
                         "models/MODEL_CARD.md")
    ev.set_defaults(func=cmd_evaluate)

    cl = subparsers.add_parser(
        "classify", help="classify text lines (or JSON lines with a 'text' field) from stdin")
    cl.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    cl.add_argument("--explain", action="store_true", help="add the words that drove it")
    cl.add_argument("--batch", type=int, default=256)
    cl.set_defaults(func=cmd_classify)


def _err(msg: str) -> None:
    print(f"aupgate: {msg}", file=sys.stderr)


def cmd_train(args) -> int:
    import time

    from classifiers.datasets import load_all
    from classifiers.modelcard import write_markdown
    from classifiers.train import train_and_save

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    examples, dropped = load_all()
    log(f"loaded {len(examples)} examples after dedup ({sum(dropped.values())} duplicates "
        f"dropped) in {time.perf_counter() - t0:.0f}s")
    card = train_and_save(args.out, examples, dropped, log=log)
    if not args.no_card_md:
        from classifiers.modelfile import load

        bundle, _ = load(args.out)
        hosts = [e.text for e in examples if e.split == "dev" and e.source == "spamassassin_ham"]
        FUNCTIONAL_FILE.write_text(
            json.dumps(functional_results(bundle, hosts), indent=1) + "\n")
        DEV_FILE.write_text(json.dumps(card["dev_metrics"], indent=1, sort_keys=True) + "\n")
        write_markdown(card, MODELS_DIR / "MODEL_CARD.md", LOSO_FILE, BIAS_FILE, FUNCTIONAL_FILE,
                       DEV_FILE)
    print(json.dumps({"model": str(args.out), "sha256": card["sha256"],
                      "size_bytes": card["size_bytes"]}))
    return 0


def functional_results(bundle, ham_dev: list[str]) -> dict:
    """The functional checks at classify's 0.5 and at the pupil hold threshold, alone and
    buried in long clean mail: `ham_dev`, the ham's dev half as `load_all` gives it
    (deduplicated across sources, as every other ham figure is)."""
    from classifiers.evaluate import HOLD_THRESHOLDS
    from classifiers.functional import buried, evaluate

    hold = HOLD_THRESHOLDS["pupil"]["serious"]
    result = evaluate(bundle, {"0.5": 0.5, "pupil hold": hold})
    result["buried"] = buried(bundle, ham_dev, hold)
    return result


def cmd_evaluate(args) -> int:
    from classifiers.datasets import REAL_SOURCES, load_all
    from classifiers.evaluate import (
        HOLD_THRESHOLDS,
        format_report,
        hold_rates,
        leave_one_source_out,
        report,
    )
    from classifiers.modelfile import load

    try:
        bundle, card = load(args.model)
    except ModelFileError as e:
        _err(str(e))
        return 2
    examples, _ = load_all()
    dev = [e for e in examples if e.split == "dev"]
    results = {s: report(bundle, [e for e in dev if e.source == s], f"{s} dev")
               for s in REAL_SOURCES}
    ham_dev = [e for e in dev if e.source == "spamassassin_ham"]
    results["clean_mail_hold"] = hold_rates(bundle, ham_dev, HOLD_THRESHOLDS)
    from classifiers.evaluate import identity_bias

    results["identity_bias"] = identity_bias(
        bundle, [e for e in dev if e.source != "spamassassin_ham"])
    results["functional"] = functional_results(bundle, [e.text for e in ham_dev])
    if args.loso:
        loso = leave_one_source_out(REAL_SOURCES, log=lambda m: print(m, file=sys.stderr))
        LOSO_FILE.write_text(json.dumps(loso, indent=1, sort_keys=True) + "\n")
        results["leave_one_source_out"] = loso
    if args.write_card:
        from classifiers.modelcard import write_markdown

        BIAS_FILE.write_text(json.dumps(results["identity_bias"], indent=1) + "\n")
        FUNCTIONAL_FILE.write_text(json.dumps(results["functional"], indent=1) + "\n")
        dev_metrics = {s: results[s] for s in REAL_SOURCES}
        dev_metrics["clean_mail_hold"] = results["clean_mail_hold"]
        DEV_FILE.write_text(json.dumps(dev_metrics, indent=1, sort_keys=True) + "\n")
        write_markdown(card, MODELS_DIR / "MODEL_CARD.md", LOSO_FILE, BIAS_FILE, FUNCTIONAL_FILE,
                       DEV_FILE)
    if args.json:
        print(json.dumps(results, indent=1, sort_keys=True))
    else:
        for s in REAL_SOURCES:
            print(format_report(results[s]))
        print("== clean real mail held (SpamAssassin ham, dev half):",
              json.dumps(results["clean_mail_hold"]))
        print("== identity-term bias (clean dev texts):", json.dumps(results["identity_bias"]))
        from classifiers.functional import format_table

        print("== functional checks (project-written cases, never trained on):")
        print("\n".join(format_table(results["functional"])))
        print("== functional cases buried in long clean mail:",
              json.dumps(results["functional"]["buried"]))
        for name, r in results.get("leave_one_source_out", {}).items():
            if "per_severity" in r:
                print(format_report(r))
            else:
                print(f"== {name}: {json.dumps(r)}")
    return 0


def _read_inputs(stream) -> list[str | None]:
    texts: list[str | None] = []
    for line in stream:
        line = line.rstrip("\n")
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                obj = json.loads(stripped)
                ok = isinstance(obj, dict) and isinstance(obj.get("text"), str)
                texts.append(obj["text"] if ok else None)
                continue
            except json.JSONDecodeError:
                pass
        texts.append(line)
    return texts


def cmd_classify(args) -> int:
    from classifiers.inference import Classifier

    try:
        clf = Classifier.load(args.model)
    except ModelFileError as e:
        _err(str(e))
        return 2
    out = sys.stdout
    pending: list[str | None] = []

    def flush() -> None:
        real = [t for t in pending if t is not None]
        results = iter(clf.score(real, explain=args.explain))
        for t in pending:
            if t is None:
                out.write(json.dumps({"error": "JSON line without a 'text' field"}) + "\n")
                continue
            r = next(results)
            row = {"severity": r.severity, "probability": round(r.probability, 4),
                   "kinds": {k: round(p, 4) for k, p in r.kinds.items()}}
            if args.explain:
                row["evidence"] = r.evidence
            out.write(json.dumps(row) + "\n")
        out.flush()
        pending.clear()

    for text in _read_inputs(sys.stdin):
        pending.append(text)
        if len(pending) >= args.batch:
            flush()
    flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aupgate")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
