"""Loading the labelled sources, mapping their labels to Appendix I, deduplicating.

Every source in `../shared/data/text` has its own labels; `MAPPING` (below, and in the
model card) says how each becomes a severity and kinds. Texts are deduplicated across
sources on their normalised form, and every example is put in a split by a hash of that
form, so a duplicate can never sit in train and dev at once:

- `dev`   never trained on: per-source evaluation (EDOS uses its official dev split);
- `calib` never trained on: fits the temperature that calibrates probabilities;
- `train` the rest.

Clean real mail is the SpamAssassin ham (`../shared/data/mail/spamassassin`), split the
same way. The project-written set (`classifiers/authored/`) is train-only and is never
evidence for a metric.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from classifiers.lexicon import IDENTITY_TERMS, SLURS
from classifiers.mailtext import from_raw
from classifiers.normalise import normalise

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AUTHORED_DIR = Path(__file__).resolve().parent / "authored"
REAL_SOURCES = ("davidson", "olid", "edos", "stormfront", "cyberbullying", "spamassassin_ham")
MAX_MAIL_CHARS = 4000

csv.field_size_limit(10_000_000)


def shared_dir() -> Path:
    env = os.environ.get("AUPGATE_SHARED")
    return Path(env) if env else (PROJECT_ROOT / ".." / "shared").resolve()


def text_dir() -> Path:
    return shared_dir() / "data" / "text"


def ham_dir() -> Path:
    return shared_dir() / "data" / "mail" / "spamassassin"


@dataclass(frozen=True)
class Example:
    text: str
    source: str
    severity: str                 # clean, mild, serious, gross
    kinds: tuple[str, ...]
    label: str                    # the source's own label, for the card
    split: str = "train"
    weight: float = 1.0


MAPPING: dict[str, dict[str, str]] = {
    "davidson": {
        "0 hate_speech": "gross (weight 0.7); kinds from the slur/group lexicon (racist, homophobic, "
                         "religion, disability), else demeaning_individuals",
        "1 offensive_language": "serious bad_language (+sexually_orientated if sexual terms), weight 0.5",
        "2 neither": "clean",
    },
    "olid": {
        "OFF/TIN/IND": "gross demeaning_individuals",
        "OFF/TIN/GRP": "gross; kinds from the group lexicon, ridiculing_politics for political "
                       "targets, else demeaning_individuals",
        "OFF/TIN/OTH": "serious bad_language",
        "OFF/UNT": "serious bad_language",
        "NOT": "clean",
    },
    "edos": {
        "1.1, 1.2 threats, incitement": "gross inciting",
        "2.1, 2.2 derogation": "gross demeaning_individuals",
        "2.3 dehumanisation, sexual objectification": "gross demeaning_individuals, "
                                                     "sexually_explicit",
        "3.1 gendered slurs": "serious bad_language",
        "3.2-3.4 stereotypes, backhanded compliments, condescension": "mild bad_taste",
        "4.1, 4.2 prejudiced discussion": "serious politically_aggravating",
        "not sexist": "clean",
    },
    "stormfront": {
        "hate": "gross racist, radicalisation (+ group lexicon kinds)",
        "noHate": "clean (extremist-forum hard negatives, weight 0.5)",
        "relation, idk/skip": "dropped (hate only in context, or unlabelled)",
    },
    "cyberbullying": {
        "religion": "gross ridiculing_religion (weight 0.5)",
        "not_cyberbullying": "clean",
        "gender": "dropped: sampled by keyword, it labels the topic not the abuse "
                  "(counter-speech against rape jokes is labelled bullying)",
    },
    "spamassassin_ham": {
        "ham": "clean, weight 8 (real mail: subject + own words + forwarded text, up to 4000 chars); 45% of the staged ham is dev, never trained on",
    },
    "authored": {
        "(project-written)": "as written; train only, never evidence for a metric",
    },
}

_POLITICAL = re.compile(r"\b(liberals?|conservatives?|democrats?|republicans?|maga|trump|"
                        r"antifa|leftists?|left|right|tories|tory|labour|socialists?|"
                        r"communists?|politicians?|libs?|dems?|gop|brexit|obama|hillary|"
                        r"clinton|nazis?|fascists?|government)\b")


def group_kinds(norm: str) -> list[str]:
    kinds: list[str] = []
    for word in re.findall(r"[a-z']+", norm):
        kind = SLURS.get(word) or IDENTITY_TERMS.get(word)
        if kind and kind != "demeaning_individuals" and kind not in kinds:
            kinds.append(kind)
    return kinds


def dedup_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", normalise(text))[:300]


def bucket(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 100


def _split_for(key: str, official: str | None = None) -> str:
    b = bucket(key)
    if official == "dev":
        return "dev"
    if official == "train":
        return "calib" if b < 10 else "train"
    return "dev" if b < 15 else "calib" if b < 25 else "train"


def _ex(text, source, severity, kinds, label, weight=1.0, official=None) -> Example | None:
    text = (text or "").strip()
    if not text:
        return None
    return Example(text, source, severity, tuple(dict.fromkeys(kinds)), label,
                   _split_for(dedup_key(text), official), weight)


def load_davidson() -> Iterator[Example]:
    with open(text_dir() / "davidson" / "labeled_data.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text, cls = row["tweet"], row["class"]
            norm = normalise(text)
            if cls == "0":
                kinds = group_kinds(norm) or ["demeaning_individuals"]
                yield _ex(text, "davidson", "gross", kinds, "hate_speech", 0.7)
            elif cls == "1":
                kinds = ["bad_language"]
                if re.search(r"\b(sex|pussy|dick|cock|tits|cum|porn|naked|nude)\b", norm):
                    kinds.append("sexually_orientated")
                yield _ex(text, "davidson", "serious", kinds, "offensive_language", 0.5)
            else:
                yield _ex(text, "davidson", "clean", [], "neither", 1.0)


def load_olid() -> Iterator[Example]:
    with open(text_dir() / "olid" / "olid-training-v1.0.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            text, a, b, c = row["tweet"], row["subtask_a"], row["subtask_b"], row["subtask_c"]
            if a == "NOT":
                yield _ex(text, "olid", "clean", [], "NOT")
            elif b == "UNT":
                yield _ex(text, "olid", "serious", ["bad_language"], "OFF/UNT")
            elif c == "IND":
                yield _ex(text, "olid", "gross", ["demeaning_individuals"], "OFF/TIN/IND")
            elif c == "GRP":
                norm = normalise(text)
                kinds = group_kinds(norm)
                if _POLITICAL.search(norm):
                    kinds.append("ridiculing_politics")
                yield _ex(text, "olid", "gross", kinds or ["demeaning_individuals"],
                          "OFF/TIN/GRP")
            else:
                yield _ex(text, "olid", "serious", ["bad_language"], "OFF/TIN/OTH")


def load_edos() -> Iterator[Example]:
    with open(text_dir() / "edos" / "edos_train_dev.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text, vec, split = row["text"], row["label_vector"], row["split"]
            code = vec.split()[0] if vec and vec != "none" else "none"
            if code == "none":
                ex = _ex(text, "edos", "clean", [], "not sexist", official=split)
            elif code.startswith("1."):
                ex = _ex(text, "edos", "gross", ["inciting"], code, official=split)
            elif code in ("2.1", "2.2"):
                ex = _ex(text, "edos", "gross", ["demeaning_individuals"], code, official=split)
            elif code == "2.3":
                ex = _ex(text, "edos", "gross", ["demeaning_individuals", "sexually_explicit"],
                         code, official=split)
            elif code == "3.1":
                ex = _ex(text, "edos", "serious", ["bad_language"], code, official=split)
            elif code.startswith("3."):
                ex = _ex(text, "edos", "mild", ["bad_taste"], code, official=split)
            else:
                ex = _ex(text, "edos", "serious", ["politically_aggravating"], code,
                         official=split)
            yield ex


def load_stormfront() -> Iterator[Example]:
    with open(text_dir() / "stormfront" / "stormfront_sentences.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text, label = row["text"], row["label"]
            if label == "hate":
                kinds = ["racist", "radicalisation", *group_kinds(normalise(text))]
                yield _ex(text, "stormfront", "gross", kinds, "hate")
            elif label == "noHate":
                yield _ex(text, "stormfront", "clean", [], "noHate", 0.5)


def load_cyberbullying() -> Iterator[Example]:
    path = text_dir() / "cyberbullying-partial" / "cyberbullying_tweets_partial.csv"
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text, label = row["tweet_text"], row["cyberbullying_type"]
            if label == "religion":
                yield _ex(text, "cyberbullying", "gross", ["ridiculing_religion"], label, 0.5)
            elif label == "not_cyberbullying":
                yield _ex(text, "cyberbullying", "clean", [], label)


def ham_files() -> list[Path]:
    base = ham_dir()
    out = []
    with open(base / "index.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["label"] == "ham" and row["staged_here"] == "True":
                out.append(base / row["group"] / row["filename"])
    return out


def ham_split(path: Path) -> str:
    """Half the staged ham is never trained on: it measures the clean-mail hold rate."""
    b = bucket(path.name)
    return "dev" if b < 45 else "calib" if b < 55 else "train"


def load_ham() -> Iterator[Example]:
    for path in ham_files():
        mail = from_raw(path.read_bytes())
        text = mail.sent[:MAX_MAIL_CHARS]
        if text.strip():
            yield Example(text, "spamassassin_ham", "clean", (), "ham", ham_split(path), 8.0)


def load_authored() -> Iterator[Example]:
    for path in sorted(AUTHORED_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            row = json.loads(line)
            yield Example(row["text"], "authored", row["severity"], tuple(row.get("kinds", [])),
                          f"authored:{path.stem}", "train", float(row.get("weight", 3.0)))


LOADERS = {
    "davidson": load_davidson, "olid": load_olid, "edos": load_edos,
    "stormfront": load_stormfront, "cyberbullying": load_cyberbullying,
    "spamassassin_ham": load_ham, "authored": load_authored,
}
# When the same text is in two sources, the one earlier here keeps it.
PRIORITY = ("authored", "spamassassin_ham", "edos", "olid", "stormfront", "davidson",
            "cyberbullying")


def load_all(sources: Iterable[str] | None = None) -> tuple[list[Example], dict[str, int]]:
    """All examples, deduplicated within and across sources; and how many were dropped."""
    wanted = list(sources or PRIORITY)
    seen: dict[str, str] = {}
    dropped: dict[str, int] = {}
    out: list[Example] = []
    for source in [s for s in PRIORITY if s in wanted]:
        for ex in LOADERS[source]():
            if ex is None:
                continue
            key = dedup_key(ex.text)
            if len(key) < 3:
                dropped[source] = dropped.get(source, 0) + 1
                continue
            if key in seen:
                dropped[source] = dropped.get(source, 0) + 1
                continue
            seen[key] = source
            out.append(ex)
    return out, dropped
