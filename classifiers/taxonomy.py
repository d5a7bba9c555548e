"""Appendix I of the acceptable-use policy, as data: the one place everyone reads it from.

Appendix I grades electronic-communications misuse by *term* (Gross, Serious, Mild),
each with a *rating* (the kind of misconduct), a *sanction*, and the *kinds* of material
that fall under it; every term is also graded by Time, Volume and Capacity. Section 2.1.10
also forbids chain letters, which the taxonomy files under Mild.

The classifier predicts a severity (clean < mild < serious < gross) and, for offensive
text, which kinds it holds. Finding codes are `content.<severity>.<kind>`.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES: tuple[str, ...] = ("clean", "mild", "serious", "gross")


@dataclass(frozen=True)
class Kind:
    code: str            # stable identifier, used in finding codes
    severity: str        # "gross", "serious" or "mild"
    label: str           # the policy's own words


@dataclass(frozen=True)
class Term:
    severity: str
    term: str            # Appendix I's TERM column
    rating: str          # RATING column
    sanction: str        # SANCTION column
    meaning: str         # MEANING column, as the policy words it


TERMS: tuple[Term, ...] = (
    Term("gross", "Gross", "Gross Misconduct", "Dismissal",
         "Time Volume Capacity Offensive material of the following nature: sexually explicit "
         "or suggestive, usually in picture format; racist homophobic; ridiculing religion, "
         "disability, sexual orientation or politics; ridiculing/demeaning individuals; "
         "inciting cruelty or illegal activity Material intended for the purpose of "
         "radicalisation"),
    Term("serious", "Serious", "Serious Misconduct/ Misconduct",
         "Final written warning / written warning",
         "Time Volume Capacity Offensive material of the following nature: sexually "
         "orientated; bad and offensive language; politically aggravating; ageism; showing "
         "violence or nudity"),
    Term("mild", "Mild and Non-offensive", "Misconduct",
         "Written warning / verbal warning / informal process",
         "Time Volume Capacity Material of the following nature: jokes/short stories with "
         "minor references to material of a sexist nature or in bad taste; jokes/stories etc. "
         "of a non-offensive nature (that is, not gross, serious or mild); light hearted "
         "material; cute animal pictures"),
)

KINDS: tuple[Kind, ...] = (
    # Gross
    Kind("sexually_explicit", "gross", "sexually explicit or suggestive"),
    Kind("racist", "gross", "racist"),
    Kind("homophobic", "gross", "homophobic"),
    Kind("ridiculing_religion", "gross", "ridiculing religion"),
    Kind("ridiculing_disability", "gross", "ridiculing disability"),
    Kind("ridiculing_politics", "gross", "ridiculing politics"),
    Kind("demeaning_individuals", "gross", "ridiculing/demeaning individuals"),
    Kind("inciting", "gross", "inciting cruelty or illegal activity"),
    Kind("radicalisation", "gross", "material intended for the purpose of radicalisation"),
    # Serious
    Kind("sexually_orientated", "serious", "sexually orientated"),
    Kind("bad_language", "serious", "bad and offensive language"),
    Kind("politically_aggravating", "serious", "politically aggravating"),
    Kind("ageism", "serious", "ageism"),
    Kind("violence", "serious", "showing violence or nudity"),
    # Mild
    Kind("bad_taste", "mild",
         "jokes/short stories with minor references to material of a sexist nature or in bad taste"),
    Kind("light_hearted", "mild", "light hearted material, non-offensive jokes, cute animals"),
    Kind("chain_letter", "mild", "chain letters (also forbidden by 2.1.10)"),
)

KIND_CODES: tuple[str, ...] = tuple(k.code for k in KINDS)
KIND_BY_CODE: dict[str, Kind] = {k.code: k for k in KINDS}
TERM_BY_SEVERITY: dict[str, Term] = {t.severity: t for t in TERMS}

# Appendix I grades every term by these as well; the content check reports them.
DIMENSIONS: dict[str, str] = {
    "capacity": "material that takes up a lot of capacity on the hard drive of the email account",
    "time": "personal use could be considered tantamount to fraud",
    "volume": "the numbers being received and/or sent on",
}


def kinds_of(severity: str) -> tuple[Kind, ...]:
    return tuple(k for k in KINDS if k.severity == severity)


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def finding_code(severity: str, kind: str) -> str:
    return f"content.{severity}.{kind}"
