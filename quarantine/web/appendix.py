"""The policy's Appendix I (classification) and Appendix II (factors before a sanction).

Appendix I's terms, ratings and sanctions come from `classifiers/taxonomy.py`, the one
place the project holds them; `appendix_i` shapes them for the review screens.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.taxonomy import KIND_BY_CODE, TERM_BY_SEVERITY

SEVERITIES = ("gross", "serious", "mild")


@dataclass(frozen=True)
class AppendixI:
    severity: str     # gross | serious | mild | "" (not content)
    term: str
    meaning: str
    rating: str
    sanction: str


_NOT_CONTENT = AppendixI("", "Not classified",
                         "Held for a reason outside Appendix I (attachment, sender, allowlist, "
                         "text quoted from another message, text too long to check).",
                         "—", "—")


def appendix_i(severity: str) -> AppendixI:
    """Appendix I's term, meaning, rating and suggested sanction for a severity."""
    term = TERM_BY_SEVERITY.get((severity or "").lower())
    if term is None or term.severity == "clean":
        return _NOT_CONTENT
    meaning = term.meaning.removeprefix("Time Volume Capacity ").strip()
    return AppendixI(term.severity, term.term, meaning, term.rating, term.sanction)


def content_kinds(findings: list[dict]) -> list[str]:
    """The Appendix I kinds named by content findings: `content.gross.racist` -> racist.
    Quoted text (`content.quoted.gross`) names none: it is not the sender's."""
    kinds = []
    for f in findings:
        parts = str(f.get("code", "")).split(".")
        if parts[0] == "content" and len(parts) >= 3 and parts[1] in SEVERITIES:
            kind = KIND_BY_CODE.get(parts[2])
            label = kind.label if kind else parts[2].replace("_", " ")
            if label not in kinds:
                kinds.append(label)
    return kinds


# Appendix II, in the policy's order: (key, title, the question it asks).
APPENDIX_II = (
    ("seniority", "Seniority",
     "Has the manager failed to set an example to the team? Has the manager challenged "
     "inappropriate behaviour amongst the team being managed?"),
    ("realisation", "Realisation of misconduct",
     "Has the employee understood the implications of the breach of discipline?"),
    ("behaviour_change", "Behaviour change",
     "Is the employee likely to repeat the misconduct, or is a desired change in behaviour "
     "likely?"),
    ("coercion", "Coercion",
     "Did the employee feel pressure to join in these activities, either through their peers "
     "or, more worryingly, their manager?"),
    ("instigator", "Instigator",
     "Is the employee at the heart of the email abuse, encouraging and/or promoting the "
     "distribution of material?"),
    ("recipients", "Recipients", "Who received the material, and how many?"),
    ("policies", "Policies breached", "Which parts of the policy were breached?"),
    ("environment", "Environment",
     "Have the images been viewed in an area where pupils, service users or members of the "
     "public might be able to see it?"),
    ("external_contact", "External contact",
     "Has material been exchanged with those outside the organisation which would increase "
     "the risk to the reputation of the academy?"),
)
APPENDIX_II_KEYS = tuple(k for k, _, _ in APPENDIX_II)
