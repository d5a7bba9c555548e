"""Classifier cost: per message for a 5 KB body, single and batched, and model memory.

    python -m bench.classifier [--model models/appendix1.skops] [--n 200]

The corpus: the SpamAssassin ham (../shared/data/mail/spamassassin, real mail), the text
each sender wrote, one mail after another, cut into bodies of exactly 5,000 characters: a
body is one long mail or the end of one and a few whole ones, never a mail repeated (a
repeated mail has a fifth of the distinct words, and scored twice as fast). With
--synthetic (or if the shared data is absent), bodies of ordinary school-mail sentences.
Timings are wall-clock on one thread; memory is the RSS growth from loading the model and
once it has scored (what scoring keeps: remembered words, a count table per vectorizer and
scoring thread), and the size of its arrays. The last row times plain Python on this
machine, to compare runs made on different machines.

Messages are scored as the gateway's content check scores them: kinds are worked out only
for a text that reaches the check's lowest threshold (`kinds_from`), as no finding could
name one under it; a row says for how many bodies that was.

The scorer remembers words between messages, as a running gateway does (the normaliser's
token fixes, each word's character n-grams). Timing starts after scoring the SpamAssassin
spam, cut the same way, so that common words are remembered; every timed body, single or
batched, is scored for the first time, so its rarer words are met for the first time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers.mailtext import from_parts  # noqa: E402

BODY_CHARS = 5000
SENTENCES = [
    "Parents' evening for Year 11 is on Tuesday from 4pm to 7pm.",
    "Please can all staff submit predicted grades by Friday lunchtime.",
    "The minibus is booked for the netball fixture; we leave at 1:30.",
    "Attached are the minutes from the governors' meeting for review.",
    "The History trip will visit the museum; please read the background pack.",
]


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


BATCHES = (16, 64)


def reference_ms() -> float:
    """The machine's speed at plain Python: best of five sums of range(1,000,000). The
    bench's figures scale with it (on two machines of the same kind it differed 2x), so
    compare runs on different machines through it."""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        sum(range(1_000_000))
        best = min(best, time.perf_counter() - t)
    return best * 1000


def cut(texts: list[str]) -> list[str]:
    """`texts` one after another, cut into bodies of BODY_CHARS (the rest dropped)."""
    stream = "\n\n".join(texts)
    return [stream[i:i + BODY_CHARS] for i in range(0, len(stream) - BODY_CHARS + 1, BODY_CHARS)]


def corpus(n: int, synthetic: bool) -> tuple[list[str], list[str]]:
    """(n bodies to time one by one and sum(BATCHES) more to time in batches, other mail
    to score first)."""
    want = n + sum(BATCHES)
    if not synthetic:
        try:
            from classifiers.datasets import ham_dir, ham_files
            from classifiers.mailtext import from_raw

            bodies = cut([from_raw(path.read_bytes()).sent for path in ham_files()])
            spam = sorted((ham_dir() / "spam-1").glob("*")) + sorted(
                (ham_dir() / "spam-2").glob("*"))
            others = cut([from_raw(path.read_bytes()).sent for path in spam])
            if len(bodies) >= want:
                return bodies[:want], others
        except (OSError, ImportError):
            pass
    bodies = []
    for i in range(want):
        text = " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(120))
        bodies.append(text[:BODY_CHARS])
    return bodies, []


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()
    bodies, others = corpus(args.n, args.synthetic)
    bodies, unseen = bodies[:args.n], bodies[args.n:]

    import sklearn.feature_extraction.text  # noqa: F401
    import skops.io  # noqa: F401 - libraries first: the load figures are the model's own

    from classifiers.inference import Classifier
    from gateway.checks.content import Settings as ContentSettings

    kinds_from = ContentSettings().lowest_threshold
    before = rss_kb()
    t0 = time.perf_counter()
    clf = Classifier.load(args.model)
    load_s = time.perf_counter() - t0
    after = rss_kb()
    b = clf.bundle
    arrays = sum(a.nbytes for a in (b.sev_coef, b.kind_coef, b.word.idf_, b.char.idf_,
                                    b.kind_word.idf_))
    if others:
        clf.score(others)       # a gateway that has been running a while

    single = []
    in_scorers = [0.0]     # the compiled scorers' share of the single messages, timed there
    block_dot = b._block_dot

    def timed_block_dot(*args):
        t = time.perf_counter()
        try:
            return block_dot(*args)
        finally:
            in_scorers[0] += time.perf_counter() - t

    b._block_dot = timed_block_dot
    with_kinds = 0
    for body in bodies:
        t = time.perf_counter()
        mail = from_parts("Subject line", [("plain", body)])
        [result] = clf.score([mail.own], kinds_from=kinds_from)
        single.append(time.perf_counter() - t)
        with_kinds += bool(result.kinds)
    del b._block_dot
    single.sort()

    batch_rows = []
    for size in BATCHES:
        texts, unseen = unseen[:size], unseen[size:]
        t = time.perf_counter()
        clf.score(texts, kinds_from=kinds_from)
        batch_rows.append((size, (time.perf_counter() - t) / size))

    scoring = rss_kb()      # the model and what scoring keeps (remembered words, count tables)

    # where the time goes, per message: the single bodies again, their words now remembered
    # (so the parts add up to less than a first scoring); the scorers are also timed inside
    # the single messages, where the Python work between calls has evicted their tables
    from classifiers.features import char_view, featurise

    def per_message_ms(step) -> float:
        t = time.perf_counter()
        step()
        return (time.perf_counter() - t) / len(bodies) * 1000

    split_ms = per_message_ms(lambda: [from_parts("Subject line", [("plain", x)])
                                       for x in bodies])
    features_ms = per_message_ms(lambda: featurise(bodies))
    norms, masked, _ = featurise(bodies)
    w = b._weights()
    ngram_ms = per_message_ms(lambda: (
        b._block_dot("word", masked, w["word"]),
        b._block_dot("char", [char_view(m) for m in masked], w["char"]),
        b._block_dot("kind_word", norms, w["kind_word"])))

    def ms(x: float) -> str:
        return f"{x * 1000:8.3f} ms"

    from classifiers.model import NgramTable

    scorer = "compiled (classifiers._ngrams)" if NgramTable else "Python (extension not built)"
    print(f"model {clf.version}, {len(bodies)} bodies of {BODY_CHARS} chars timed one by one "
          f"and {sum(size for size, _ in batch_rows)} more in batches, n-gram scoring {scorer}")
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| single message (mail split + score), mean | {ms(statistics.mean(single))} |")
    print(f"| single message, median | {ms(single[len(single) // 2])} |")
    print(f"| single message, p99 | {ms(single[int(len(single) * 0.99) - 1])} |")
    for size, per in batch_rows:
        print(f"| batched x{size}, per message | {ms(per)} |")
    print(f"| single messages whose kinds were worked out (P(mild or worse) >= "
          f"{kinds_from}) | {with_kinds} of {len(bodies)} |")
    print(f"| of which mail split, per message | {split_ms:8.3f} ms |")
    print(f"| of which normalise, mask and lexicon counts, per message | {features_ms:8.3f} ms |")
    print(f"| of which n-gram scoring (3 vectorizers), per message | {ngram_ms:8.3f} ms |")
    print(f"| n-gram scoring inside the single messages above, per message | "
          f"{ms(in_scorers[0] / len(bodies))} |")
    print(f"| model load | {ms(load_s)} |")
    print(f"| model file | {Path(clf.card.get('model_file', '')).name} "
          f"{clf.card.get('size_bytes', 0) / 1e6:.1f} MB |")
    print(f"| weight arrays in memory | {arrays / 1e6:.1f} MB |")
    print(f"| RSS growth on load | {(after - before) / 1024:.1f} MB |")
    print(f"| RSS growth once scoring (remembered words, count tables) | "
          f"{(scoring - before) / 1024:.1f} MB |")
    print(f"| this machine: sum(range(1,000,000)) in Python | {reference_ms():8.3f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
