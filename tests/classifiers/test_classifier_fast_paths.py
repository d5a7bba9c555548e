"""Where featurising takes a short cut for speed (work on non-ASCII runs only, counting
in bytes, masking by str.find), it gives what the straightforward code gives, on random
text that mixes ASCII with accents, other scripts, confusables and zero-width marks."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from classifiers import features, normalise
from classifiers.lexicon import IDENTITY_TERMS, INSULTS, SLURS

ALPHABET = ("aAbBeEsSzZ019 _.,'\n*@#" "ÉéÜüßЖжаеорсΩωο日’“”–\u200b\u00ad\u2028ǅİﬁｆＦ"
            "e\u0301o\u0308")
WORDS = list(IDENTITY_TERMS)[:40] + ["mentally ill", "people of colour", "the", "fuck", "ok"]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = [rng.choice(ALPHABET) if rng.random() < 0.7 else f" {rng.choice(WORDS)} "
                 for _ in range(rng.randrange(0, 120))]
        texts.append("".join(parts))
    return texts


def _fold_whole_text(text: str) -> str:
    if text.isascii():
        return text.lower()
    text = text.translate(normalise._ZERO_WIDTH)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(normalise._CONFUSABLE_TABLE)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))
        text = text.lower().translate(normalise._CONFUSABLE_TABLE)
    return text.lower()


def _shouting_by_letter(raw: str) -> float:
    letters = re.findall(r"[^\W\d_]", raw)
    upper = sum(map(str.isupper, letters))
    return upper / len(letters) if len(letters) > 20 else 0.0


def _mask_by_callback(norm: str) -> str:
    norm = features._MULTIWORD.sub(features.PLACEHOLDER, norm)
    return re.sub(r"[a-z0-9']+", lambda m: features.PLACEHOLDER
                  if m.group(0) in IDENTITY_TERMS else m.group(0), norm)


@pytest.mark.parametrize("seed", range(3))
def test_fold_on_non_ascii_runs_is_fold_on_the_whole_text(seed):
    long_runs = ["Ж" * 40 + "e\u0301", "a" + "\u0308\u200b" * 30 + "B"]   # past the cache
    for text in _random_texts(400, seed) + long_runs:
        assert normalise.fold_confusables(text) == _fold_whole_text(text), repr(text)


@pytest.fixture(params=["compiled", "python"])
def scan_path(request, monkeypatch):
    """Each test that takes this runs on classifiers._scan's scans and on the Python ones."""
    if request.param == "python":
        monkeypatch.setattr(features, "letter_counts", None)
        monkeypatch.setattr(features, "word_list", None)
        monkeypatch.setattr(features, "_COMPILED_NEEDLES", {})
        monkeypatch.setattr(features, "_STRUCTURES", None)
        monkeypatch.setattr(features, "word_spans", None)
    else:
        assert features.Needles is not None, "classifiers._scan is not built"
        assert features._COMPILED_NEEDLES and features._STRUCTURES is not None
    return request.param


@pytest.mark.parametrize("seed", range(3))
def test_shouting_counted_in_bytes_is_shouting_counted_by_letter(seed, scan_path):
    # title case, superscripts, fractions, Roman numerals, other scripts' digits, _
    awkward = ["ALL CAPS AND ÉCOLE AND ЖЖЖ" * 3, "ǅ² ½ Ⅻ ٣ _ ÀÉÎ ŒÆ ΣΑΣ ꞫꞫ 𝐀𝐁 " * 3]
    for text in _random_texts(400, seed) + awkward:
        assert features.shouting_ratio(text) == _shouting_by_letter(text), repr(text)


# names of groups inside other words, beside apostrophes, hyphens and each other
GROUP_EDGES = ["blackboard black blacks' blackblack black-white 'black' black",
               "manage man woman's human men's manmade man", "gay", "gays gay gay",
               "jewish jew jews jewellery", "x old_man oldman 0man man0 man"]


@pytest.mark.parametrize("seed", range(3))
def test_masking_by_find_is_masking_by_callback(seed, scan_path):
    for text in _random_texts(400, seed) + GROUP_EDGES:
        norm = normalise.normalise(text)
        words = features.words_of(norm)
        assert features.mask_groups(norm) == _mask_by_callback(norm), repr(norm)
        assert features.mask_groups(norm, words) == _mask_by_callback(norm)
        named = features.word_structures(words)[2]
        assert features.mask_groups(norm, words, named) == _mask_by_callback(norm)


def _structures_by_word(words: list[str]) -> tuple:
    """What word_structures counts, word by word from the lexicon's own lists."""
    def has(i: int, group) -> bool:
        return 0 <= i < len(words) and words[i] in group

    def near(i: int, group) -> bool:
        return any(has(j, group) for j in range(i - 4, i + 5) if j != i)

    attack_words = (features._NEGATIVE | features._DEHUM | features._THREAT
                    | features._HATE_VERBS)
    counts = dict.fromkeys(["prof", "slur", "sex", "threat", "dehum", "pyou", "tyou",
                            "attack", "negated", "gender", "insult", "iperson", "sperson"], 0)
    for i, word in enumerate(words):
        counts["prof"] += word in features._PROFANITY
        counts["pyou"] += word in features._PROFANITY and near(i, features._SECOND)
        counts["slur"] += word in SLURS
        counts["sex"] += word in features._SEXUAL
        counts["sperson"] += word in features._SEXUAL and near(i, features._PERSON)
        counts["threat"] += word in features._THREAT
        counts["tyou"] += word in features._THREAT and near(i, features._SECOND)
        counts["dehum"] += word in features._DEHUM
        counts["insult"] += word in INSULTS
        counts["iperson"] += word in INSULTS and near(i, features._PERSON)
        if word in attack_words:
            if near(i, features._PROTECTED):
                negated = any(has(j, features._NEGATION) for j in range(i - 3, i))
                counts["negated" if negated else "attack"] += 1
            elif near(i, features._GENDER):
                counts["gender"] += 1
    return (tuple(counts.values()), [w for w in words if w in features._PROTECTED],
            [w for w in words if w in IDENTITY_TERMS])


@pytest.mark.parametrize("seed", range(3))
def test_structures_counted_from_flags_are_structures_counted_word_by_word(seed, scan_path):
    """Dense in the lexicon's words, so that structures overlap, sit at the ends of the
    text and are negated."""
    rng = random.Random(seed)
    lexicon_words = sorted(features._FLAGS)
    fillers = ["the", "a", "and", "is", "xidx", "don't", "'", "12"]
    for _ in range(3000):
        words = [rng.choice(lexicon_words) if rng.random() < 0.4 else rng.choice(fillers)
                 for _ in range(rng.randrange(0, 30))]
        assert features.word_structures(words) == _structures_by_word(words), words


@pytest.mark.parametrize("seed", range(3))
def test_spaced_runs_joined_at_hints_are_joined_by_one_sub(seed):
    # dense in single letters and separators, so that runs start, fail and abut often
    rng = random.Random(seed)
    pieces = list("abcxyz019@$!*") + list(" .-_,/") * 2 + ["\n", "é", "ab", "a b c", "f.u.c.k"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
             for _ in range(4000)]
    texts += [t.lower() for t in _random_texts(400, seed)]
    for text in texts:
        expected = normalise._SPACED.sub(lambda m: normalise._join_run(m.group(1)), text)
        assert normalise._join_spaced_runs(text) == expected, repr(text)


COUNTER_PIECES = ["saying", "calling", "called", "claims that", "to say that", "it's wrong",
                  "is not okay", "never acceptable", "no place", "must not be tolerated",
                  "hate speech", "condemnation", "condemns", "reported", "reports",
                  "challenged", "stop calling", "sounds racist", "was hateful", "untrue",
                  "lies about", "disgusting comments", "standing up to", "against homophobia",
                  "say", "stand", "against", "is", "not", "it's", "the", "xidx", "a", "up",
                  "unsaying", "recalled", "misreported", ",", ".", "!", "'", "-"]


@pytest.mark.parametrize("seed", range(3))
def test_counter_cues_counted_near_needles_are_counted_over_the_whole_text(seed, scan_path):
    rng = random.Random(seed)
    for _ in range(3000):
        words = [rng.choice(COUNTER_PIECES) for _ in range(rng.randrange(0, 60))]
        glue = [rng.choice(["", " ", " ", " ", "  "]) for _ in words]
        norm = "".join(w + g for w, g in zip(words, glue, strict=True))
        assert features.count_counter_cues(norm) == len(features._COUNTER.findall(norm)), norm
    for text in _random_texts(400, seed):
        norm = normalise.normalise(text)
        assert features.count_counter_cues(norm) == len(features._COUNTER.findall(norm))


@pytest.mark.parametrize("seed", range(3))
def test_needles_found_in_one_scan_are_needles_found_by_find(seed, monkeypatch):
    """The compiled scan finds what str.find finds, overlaps included: needles that are
    prefixes of one another, of one character, starting or going on beyond Latin-1, in
    text of each of Python's three string widths."""
    monkeypatch.setattr(features, "_COMPILED_NEEDLES", {})      # needle_spans by str.find
    rng = random.Random(seed)
    sets = [features._COUNTER_NEEDLES, features._EXCLUSION_NEEDLES,
            ("a", "aa", "aaa", "ab", "ba", "é", "éa", "aé", "a日", "日本", "日", "𝐀x")]
    for needles in sets:
        scan = features.Needles(needles)
        pieces = list(needles) + ["a", "b", " ", "é", "日", "𝐀", "x", "\n"]
        for _ in range(3000):
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
            assert scan.spans(text) == features.needle_spans(text, needles), repr(text)
    with pytest.raises(ValueError):
        features.Needles(("ok", ""))


EXCLUSION_PIECES = ["grp", "should", "must", "deserve to", "ought to", "all", "just", "be",
                    "get", "go", "banned", "deported", "locked up", "sent back", "exterminated",
                    "die", "back", "no", "ban all", "deport", "kill the", "get rid of all",
                    "exterminate the", "round up the", "don't", "do not", "belong", "go back to",
                    "your", "their", "own", "country", "send them back", "send", "them", "are",
                    "is", "an", "invasion", "threat", "grps", "xgrp", "'grp", "the", "a"]


@pytest.mark.parametrize("seed", range(3))
def test_exclusions_counted_near_needles_are_counted_over_the_whole_text(seed, scan_path):
    rng = random.Random(seed)
    protected = sorted(features._PROTECTED)
    for _ in range(3000):
        pieces = [rng.choice(EXCLUSION_PIECES + protected[:20]) for _ in range(rng.randrange(0, 60))]
        words = " ".join(pieces).split()
        whole = " ".join(features._AS_GRP.get(w, w) for w in words)
        assert features.count_exclusions(words) == len(features._EXCLUSION.findall(whole)), whole


@pytest.mark.parametrize("seed", range(3))
def test_words_found_by_translate_are_words_found_by_the_pattern(seed, scan_path):
    rng = random.Random(seed)
    ascii_texts = ["".join(chr(rng.randrange(0, 128)) for _ in range(rng.randrange(0, 80)))
                   for _ in range(2000)]
    wide = ["a\U0001d400b don't \U0001f642x'y 12ab", "日本 ok'd", "ÉCOLE é-cole x\u2028y"]
    for text in ascii_texts + _random_texts(400, seed) + wide:
        norm = normalise.normalise(text)
        for s in (text, norm):
            assert features.words_of(s) == features._WORD.findall(s), repr(s)


def _tidiers(monkeypatch, fix, table: dict) -> dict:
    """Both implementations of the word-level steps (Python's, the compiled one), each
    fixing tokens with `fix` and remembering them in `table`."""
    monkeypatch.setattr(normalise, "_FIXED", table)
    monkeypatch.setattr(normalise, "_fix_token", fix)
    tidiers = {"python": normalise._tidy, "compiled": normalise.compiled_tidy(fix, table)}
    assert tidiers["compiled"] is not None, "classifiers._normalise is not built"
    return tidiers


@pytest.mark.parametrize("path", ["python", "compiled"])
def test_a_new_word_repeated_in_a_mail_is_fixed_once(monkeypatch, path):
    """The token fixes are remembered within a mail too, and give what fixing each
    occurrence gives. The compiled steps fix plain words in punctuation themselves."""
    calls: list[str] = []
    fix = normalise._fix_token

    def counting(token: str) -> str:
        calls.append(token)
        return fix(token)

    tidy = _tidiers(monkeypatch, counting, {})[path]
    text = "sh1t qwzx, f*ck qwzx sh1t qwzx. f*ck"
    assert tidy(text) == "shit qwzx, fuck qwzx shit qwzx. fuck"
    expected = {"sh1t", "f*ck"} | ({"qwzx,", "qwzx", "qwzx."} if path == "python" else set())
    assert sorted(calls) == sorted(expected)


@pytest.mark.parametrize("path", ["python", "compiled"])
def test_tokens_are_fixed_while_another_thread_empties_the_table(monkeypatch, path):
    """The table of fixed tokens is shared by the content check's threads; one emptying it
    while another fixes a mail's new words leaves that mail's result unchanged."""
    text = "sh1t qwzx, f*ck qwzx sh1t qwzx. f*ck"
    expected = normalise._tidy(text)
    fix = normalise._fix_token
    table: dict = {}

    def fix_then_empty(token: str) -> str:
        fixed = fix(token)
        table.clear()
        return fixed

    assert _tidiers(monkeypatch, fix_then_empty, table)[path](text) == expected


@pytest.mark.parametrize("path", ["python", "compiled"])
def test_long_tokens_are_fixed_but_not_remembered(monkeypatch, path):
    """A part may hold one token of 200,000 characters: the table of fixed tokens keeps
    only short ones, and a long one is fixed as a short one is."""
    table: dict = {}
    tidy = _tidiers(monkeypatch, normalise._fix_token, table)[path]
    long_token = "sh1t" * 5_000 + "!"
    text = f"sh1t {long_token} f*ck {long_token}"
    assert tidy(text) == f"shit {normalise._fix_token(long_token)} fuck " \
                         f"{normalise._fix_token(long_token)}"
    assert set(table) == {"sh1t", "f*ck"}
    assert tidy(text) == tidy(text)     # and again, from the table


def test_the_table_of_fixed_tokens_is_bounded(monkeypatch):
    """Mail full of distinct rare tokens empties the compiled steps' table when full."""
    table: dict = {}
    monkeypatch.setattr(normalise, "_FIXED_MAX", 100)
    tidy = normalise.compiled_tidy(normalise._fix_token, table)
    assert tidy(" ".join(f"w{i}x" for i in range(999)) + " f*ck").endswith(" w998x fuck")
    assert 0 < len(table) <= 100


def _unmask_by_pattern(core: str) -> str | None:
    """The straightforward unmasking: a pattern per masked word, tried on every word."""
    masks = normalise._MASKCHARS
    if not any(c in masks for c in core) or not any(c.isalpha() for c in core):
        return None
    pattern = re.compile("".join("." if c in masks else re.escape(c) for c in core))
    for word in normalise.MASKABLE:
        if len(word) == len(core) and pattern.fullmatch(word):
            return word
    if core[0].isalpha() and core[-1].isalpha():
        for word in normalise.MASKABLE:
            if word[0] == core[0] and word[-1] == core[-1] and abs(len(word) - len(core)) <= 1:
                return word
    if core[0].isalpha() and all(c in masks for c in core[1:]) and len(core) >= 3:
        for word in normalise.MASKABLE:
            if word[0] == core[0] and len(word) == len(core):
                return word
    return None


def _masked_tokens(n: int, seed: int) -> list[str]:
    """Lexicon words with letters masked, stars added or dropped, in punctuation."""
    rng = random.Random(seed)
    tokens = []
    for _ in range(n):
        word = list(rng.choice(normalise.MASKABLE))
        for i in range(len(word)):
            if rng.random() < 0.4:
                word[i] = rng.choice("*#%_")
        if rng.random() < 0.3:
            word.insert(rng.randrange(1, len(word) + 1), "*")
        if rng.random() < 0.3 and len(word) > 2:
            del word[rng.randrange(1, len(word))]
        tokens.append(rng.choice(["", "(", "\"", "'", "..."]) + "".join(word)
                      + rng.choice(["", ",", ".", "!", "?!", ")", "*"]))
    longest = max(map(len, normalise.MASKABLE))
    near_the_limit = [f"{w[0]}{'*' * k}{w[-1]}" for w in normalise.MASKABLE
                      for k in range(longest - 3, longest + 1)]
    return tokens + near_the_limit + [
        "".join(rng.choice("ab*#_!.,(é1@") for _ in range(rng.randrange(1, 9))) for _ in range(n)]


@pytest.mark.parametrize("seed", range(3))
def test_words_split_and_unmasked_by_tables_are_split_and_unmasked_by_patterns(seed):
    for token in _masked_tokens(2000, seed):
        lead, core, trail = normalise._split_word(token)
        assert (lead, core, trail) == normalise._WORDCHARS.match(token).groups(), token
        if core:
            assert normalise._unmask(core) == _unmask_by_pattern(core), core


def test_normalised_text_is_lower_case_even_where_an_entity_decodes_to_a_capital():
    """The scorers skip the vectorizers' lower-casing because normalised text is lower
    case; an HTML entity is decoded after folding, and may be a capital."""
    for text in ["&#65;BC &Aacute;lbum &Eacute;COLE", "Fine &amp; DANDY", "&#x4B;ILL them"] + \
            _random_texts(400, 7):
        norm = normalise.normalise(text)
        assert norm == norm.lower(), repr(text)
    assert normalise.normalise("&#75;ILL them") == normalise.normalise("kill them")


def test_the_compiled_scans_refuse_what_is_not_text():
    assert features.Needles is not None, "classifiers._scan is not built"
    for scan in (features.word_list, features.letter_counts, features.Needles(("a",)).spans):
        with pytest.raises(TypeError):
            scan(b"bytes are not text")


def test_a_word_is_not_near_itself(monkeypatch, scan_path):
    """No word of today's lists is both an attack word and a group's name (or a
    profanity and 'you'), so only a made-up table tells whether a word counts as near
    itself: it must not."""
    both = {"self": features._PROF | features._YOU | features._ATTACK | features._PROT}
    monkeypatch.setattr(features, "_FLAGS", both)
    if scan_path == "compiled":
        monkeypatch.setattr(features, "_STRUCTURES", features.Structures(both, features._BITS))
    counts, protected, _ = features.word_structures(["self", "and", "more"])
    assert counts[0] == 1 and counts[5] == 0 and counts[7] == 0, counts    # profanity only
    assert protected == ["self"]
    counts, _, _ = features.word_structures(["self", "self"])
    assert counts[5] == 2 and counts[7] == 2, counts


def test_artefact_patterns_without_ignorecase_differ_only_on_two_letters(monkeypatch):
    """On lower-case text strip_artefacts uses its patterns without re.I, save where the
    text holds one of the two lower-case letters re.I folds onto an ASCII one."""
    import sys
    from string import ascii_lowercase

    letters = "".join(sorted(set("".join(p.pattern for p in normalise._LOWER_TWIN))
                             & set(ascii_lowercase)))
    one_of = re.compile(f"[{letters}]")
    folded = {chr(cp) for cp in range(sys.maxunicode + 1)
              if chr(cp).lower() == chr(cp) and not one_of.fullmatch(chr(cp))
              and re.fullmatch(one_of.pattern, chr(cp), re.I)}
    assert folded == set(normalise._DOTLESS_I_LONG_S)
    texts = ["[url] u\u017fer [l\u0131nk]", "httpſ://x.example/a b http",
             "rt: see https://a.example [url] user", "no artefacts at all"]
    stripped = [normalise.strip_artefacts(t) for t in texts]
    monkeypatch.setattr(normalise, "_LOWER_TWIN", {})
    assert stripped == [normalise.strip_artefacts(t) for t in texts]
    assert stripped[0] == "     "      # re.I: each is a placeholder
