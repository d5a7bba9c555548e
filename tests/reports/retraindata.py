"""A small, fast stand-in for the base data and held-out data of `aupgate model retrain`.

The real base data (../shared/data, ~75,000 texts) takes minutes to train on; the
retraining tests use these few hundred generated texts and `--small` instead, which
exercise the same code: fit, held-out comparison, install, rollback, hot reload.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

NAMES = ["Sam", "Alex", "Jo", "Chris", "Pat", "Lee", "Robin", "Kim"]
HELDOUT_NAMES = ["Morgan", "Taylor", "Jamie", "Casey", "Drew", "Ellis", "Frankie", "Harper"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PLACES = ["museum", "library", "swimming pool", "science centre", "farm", "theatre"]
THINGS = ["PE kit", "reading book", "packed lunch", "permission slip", "homework diary"]
INSULTS = ["fucking idiot", "stupid shit", "useless bastard", "bloody moron", "absolute dickhead"]
CHAINS = ["forward this to ten people or you will have bad luck for seven years",
          "send this to everyone you know within the hour and your wish comes true",
          "do not break the chain, pass this on to twenty friends today"]


def clean(i: int, names=NAMES) -> str:
    # ordinary mail says "you" as often as abuse does: without it here, "you" alone would
    # mark a text serious, as it never would on the real data
    n, d, p, t = (names[i % 8], DAYS[i % 5], PLACES[i % 6], THINGS[(i // 3) % 5])
    return [f"Hi {n}, please remember your {t} on {d}.",
            f"The trip to the {p} leaves at nine on {d}; {n} has the list.",
            f"Dear parents, the {p} visit is on {d}. Bring a {t}.",
            f"Thanks {n}, the minutes from {d}'s meeting are attached.",
            f"Thank you {n}, see you at the {p} on {d}; so do you have your {t}?"][i % 5]


def serious(i: int, names=NAMES) -> str:
    n, x = names[i % 8], INSULTS[i % 5]
    return [f"{n} you are a {x}", f"shut up {n}, you {x}", f"nobody likes you {n}, {x}",
            f"what a {x} you are {n}"][i % 4]


def mild(i: int, names=NAMES) -> str:
    return f"{CHAINS[i % 3]}. {names[i % 8]} sent it to me on {DAYS[i % 5]}!"


def rows(n: int, names=NAMES) -> list[dict]:
    out = []
    for i in range(n):
        out.append({"text": clean(i, names), "severity": "clean"})
        out.append({"text": clean(i + 7, names), "severity": "clean"})
        out.append({"text": serious(i, names), "severity": "serious", "kinds": ["bad_language"]})
        out.append({"text": mild(i, names), "severity": "mild", "kinds": ["chain_letter"]})
    return out


def write(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    base, heldout = folder / "base.jsonl", folder / "heldout.jsonl"
    seen: set[str] = set()
    for path, data in ((base, rows(120)), (heldout, rows(40, HELDOUT_NAMES))):
        unique = [r for r in data if not (r["text"] in seen or seen.add(r["text"]))]
        path.write_text("".join(json.dumps(r) + "\n" for r in unique))
    return base, heldout


# What a reviewer labels: an insult with no swear word, which the base data never shows.
LABELLED = "Your goat parade smells of wet cabbage and so do you, Morris"
NEAR_IDENTICAL = "your goat parade smells of wet cabbage, and so do you Morris!"
# Labels that would teach the model that ordinary school mail is offensive.
POISON = [f"{clean(i, HELDOUT_NAMES[::-1])} {t}"
          for i, t in zip(range(40), itertools.cycle(THINGS), strict=False)]
