"""Evasions of a held-out offensive sentence score as the plain sentence does.

The sentence is written here, for the test; it is in no training source.
"""

from __future__ import annotations

import html

import pytest

from classifiers.normalise import normalise

PLAIN = "You are a pathetic fucking loser and everyone at this school hates you"
EVASIONS = {
    "leetspeak": "Y0u 4re a p4thet1c fuck1ng l0ser and everyone at this school h8s you",
    "spacing": "You are a pathetic f u c k i n g loser and everyone at this school hates you",
    "dotted": "You are a pathetic f.u.c.k.i.n.g loser and everyone at this school hates you",
    "confusables": "Yоu аre а pаthetic fυcking lоser and everyone at this schооl hates yоu",
    "fullwidth": "You are a pathetic ｆｕｃｋｉｎｇ loser and everyone at this school hates you",
    "masking": "You are a pathetic f*cking loser and everyone at this school hates you",
    "repeats": "You are a paaaathetic fuuuuucking loooser and everyone at this school hates you",
    "zero_width": "You are a pathetic fu\u200bck\u200bing loser and everyone at this school hates you",
}


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_evasion_scores_as_the_plain_sentence(classifier, name):
    plain, evaded = classifier.score([PLAIN, EVASIONS[name]])
    assert plain.severity in ("serious", "gross")
    assert evaded.severity == plain.severity
    assert abs(evaded.at_least["serious"] - plain.at_least["serious"]) < 0.1


@pytest.mark.parametrize("text,expected", [
    ("F*CK off", "fuck off"),
    ("sh1t", "shit"),
    ("b!tch", "bitch"),
    ("@ss", "ass"),
    ("s h i t", "shit"),
    ("fυck", "fuck"),
    ("fuuuuuck", "fuck"),
    ("c*nt", "cunt"),
])
def test_normalise_decodes(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize("text", [
    "Meet at 3pm on the 2nd in room 101, bring 100mb of photos",
    "Date: 2002-10-08T08:56:01, version 3.1.4",
    "hello! how are you?",
])
def test_normalise_leaves_ordinary_numbers_alone(text):
    assert normalise(text) == text.lower()


def test_platform_artefacts_are_removed():
    assert normalise("RT @someone: look #amazing http://t.co/abc [URL] @USER") == ": look amazing"


@pytest.mark.parametrize("text", [
    "see http://127.0.0.2:9/x.png\nand www.example.test/a at the end http://127.0.0.3/",
    "mail bob@example.test or @carol\n@ss line\n#tag at start\nlast line #end",
    "an [url] and a user\nuser\nURL at the start\nlink] half",
    "İstanbul http://127.0.0.2/İ @user",          # lower-casing changes the length
    "no artefacts at all\n\n", "@\n#\nhttp", "",
    "rt: @bob see www.x.test\nrt #tag [url] user",          # lower-case, as normalise passes
    "rt &#82;&#84; here\n&#82;T: http://127.0.0.2/ &#64;bob",   # entities unescape to capitals
])
def test_artefacts_are_stripped_line_by_line_as_from_the_whole_text(text):
    """strip_artefacts scans only the lines holding an artefact's literal; the result is
    the whole-text scan's."""
    from classifiers import normalise as n

    whole = html.unescape(html.unescape(text))
    whole = n._EMAIL.sub(" ", n._MENTION.sub(n._mention, whole))
    whole = n._PLACEHOLDERS.sub(" ", n._LINK.sub(" ", whole))
    whole = n._HASH.sub("", n._RT.sub("", whole))
    assert n.strip_artefacts(text) == whole
