"""The policy's Appendix I (classification) and Appendix II (factors before a sanction).

`appendix_i` is the ONE place the web app looks up an Appendix I term, rating and
sanction. When `classifiers/taxonomy.py` lands, point this function at it.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("gross", "serious", "mild")


@dataclass(frozen=True)
class AppendixI:
    severity: str     # gross | serious | mild | "" (not content)
    term: str
    meaning: str
    rating: str
    sanction: str


_APPENDIX_I = {
    "gross": AppendixI(
        "gross", "Gross",
        "Offensive material of the following nature: sexually explicit or suggestive, usually "
        "in picture format; racist homophobic; ridiculing religion, disability, sexual "
        "orientation or politics; ridiculing/demeaning individuals; inciting cruelty or "
        "illegal activity. Material intended for the purpose of radicalisation.",
        "Gross Misconduct", "Dismissal"),
    "serious": AppendixI(
        "serious", "Serious",
        "Offensive material of the following nature: sexually orientated; bad and offensive "
        "language; politically aggravating; ageism; showing violence or nudity.",
        "Serious Misconduct/ Misconduct", "Final written warning / written warning"),
    "mild": AppendixI(
        "mild", "Mild and Non-offensive",
        "Material of the following nature: jokes/short stories with minor references to "
        "material of a sexist nature or in bad taste; jokes/stories etc. of a non-offensive "
        "nature (that is, not gross, serious or mild); light hearted material; cute animal "
        "pictures.",
        "Misconduct", "Written warning / verbal warning / informal process"),
}
_NOT_CONTENT = AppendixI("", "Not classified",
                         "Held for a reason outside Appendix I (attachment, sender, allowlist).",
                         "—", "—")


def appendix_i(severity: str) -> AppendixI:
    """Appendix I's term, meaning, rating and suggested sanction for a severity."""
    return _APPENDIX_I.get((severity or "").lower(), _NOT_CONTENT)


def content_kinds(findings: list[dict]) -> list[str]:
    """The Appendix I kinds named by content findings: `content.gross.racist` -> racist."""
    kinds = []
    for f in findings:
        parts = str(f.get("code", "")).split(".")
        if parts[0] == "content" and len(parts) >= 3 and parts[2] not in kinds:
            kinds.append(parts[2].replace("_", " "))
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
