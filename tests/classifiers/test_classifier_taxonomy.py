"""The taxonomy is Appendix I: the same terms, ratings, sanctions and kinds."""

from __future__ import annotations

import re

import pytest

from classifiers.datasets import shared_dir
from classifiers.taxonomy import KIND_CODES, KINDS, SEVERITIES, TERMS, finding_code, kinds_of


@pytest.fixture(scope="module")
def appendix() -> dict[str, list[str]]:
    path = shared_dir() / "policy" / "acceptable-use-policy.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    text = path.read_text(encoding="utf-8")
    start = text.index("Appendix I: Classification")
    block = text[start:text.index("Capacity –", start)]
    rows = {}
    for line in block.splitlines():
        cells = [re.sub(r"</?i>", "", c).strip() for c in line.split("\t")]
        if len(cells) == 4 and cells[0] in ("Gross", "Serious", "Mild and Non-offensive"):
            rows[cells[0]] = cells
    return rows


def test_three_terms_in_order_with_ratings_and_sanctions(appendix):
    assert [t.term for t in TERMS] == ["Gross", "Serious", "Mild and Non-offensive"]
    for term in TERMS:
        _, meaning, rating, sanction = appendix[term.term]
        assert term.meaning == meaning
        assert term.rating == rating
        assert term.sanction == sanction


def test_every_kind_is_named_in_its_terms_meaning():
    words = {"sexually_explicit": "sexually explicit", "racist": "racist",
             "homophobic": "homophobic", "ridiculing_religion": "ridiculing religion",
             "ridiculing_disability": "disability", "ridiculing_politics": "or politics",
             "demeaning_individuals": "ridiculing/demeaning individuals",
             "inciting": "inciting cruelty or illegal activity",
             "radicalisation": "radicalisation", "sexually_orientated": "sexually orientated",
             "bad_language": "bad and offensive language",
             "politically_aggravating": "politically aggravating", "ageism": "ageism",
             "violence": "showing violence", "bad_taste": "in bad taste",
             "light_hearted": "light hearted material"}
    by_severity = {t.severity: t.meaning for t in TERMS}
    for kind in KINDS:
        if kind.code == "chain_letter":
            continue
        assert words[kind.code] in by_severity[kind.severity], kind.code


def test_chain_letters_are_mild_and_every_term_has_kinds():
    assert "chain_letter" in [k.code for k in kinds_of("mild")]
    for sev in ("gross", "serious", "mild"):
        assert kinds_of(sev)
    assert SEVERITIES == ("clean", "mild", "serious", "gross")
    assert len(set(KIND_CODES)) == len(KIND_CODES)
    assert finding_code("gross", "racist") == "content.gross.racist"


def test_every_term_is_graded_by_time_volume_capacity():
    for term in TERMS:
        assert term.meaning.startswith("Time Volume Capacity")
