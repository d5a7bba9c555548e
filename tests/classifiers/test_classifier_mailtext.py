"""Mail text: HTML by a parser, quoted replies and forwards told apart from own words."""

from __future__ import annotations

from classifiers.mailtext import from_parts, html_to_text
from tests.support import staged_mail

GROSS_QUOTE = ("Muslims are filthy vermin and should be wiped out, kill every last one of the "
               "subhuman scum")


def test_quoted_reply_is_not_the_repliers_words():
    body = ("Thank you for sending this on. I have reported it to the DSL.\n\n"
            "On Mon, 3 Mar 2025 at 09:12, Someone <someone@example.org> wrote:\n"
            f"> {GROSS_QUOTE}\n> \n")
    mail = from_parts("Re: something you should see", [("plain", body)])
    assert "vermin" not in mail.own
    assert "vermin" in mail.quoted
    assert "reported it" in mail.own


def test_quoted_reply_is_not_blamed(classifier):
    body = ("Thank you for sending this on. I have reported it to the DSL.\n\n"
            f"On Mon, 3 Mar 2025 at 09:12, Someone <someone@example.org> wrote:\n> {GROSS_QUOTE}\n")
    mail = from_parts("Re: something you should see", [("plain", body)])
    own, quoted = classifier.score([mail.own, mail.quoted])
    assert quoted.severity in ("serious", "gross")
    assert own.severity in ("clean", "mild")


def test_outlook_original_message_and_inline_reply():
    body = ("Fine by me.\n\n-----Original Message-----\nFrom: A\nSent: Monday\n"
            "you are a useless idiot\n")
    mail = from_parts("RE: rota", [("plain", body)])
    assert mail.own == "rota\nFine by me."
    inline = "> first point\nagreed\n> second point\nno\n"
    mail = from_parts("", [("plain", inline)])
    assert mail.own.split("\n") == ["agreed", "no"]
    assert mail.quoted.split("\n") == ["first point", "second point"]


def test_a_signature_is_the_senders_own_words():
    """A "-- " line starts a signature, not a place to hide words from the check: before,
    everything after it was dropped, neither scored nor quoted."""
    body = "see you tomorrow\n-- \nI'm going to stab you after school\nJo, 9R\n"
    mail = from_parts("hi", [("plain", body)])
    assert "stab you after school" in mail.own
    reply = ("fine\n\nOn Mon, 3 Mar 2025, Sam <sam@example.org> wrote:\n> what time?\n"
             "-- \nyou are a slag\n")
    mail = from_parts("Re: hi", [("plain", reply)])
    assert "you are a slag" in mail.own and mail.quoted == "what time?"


def test_forwarded_text_is_counted_and_kept_apart():
    body = "lol\n---------- Forwarded message ---------\nFrom: x\nSend this to 10 friends\n"
    mail = from_parts("Fwd: Fwd: luck", [("plain", body)])
    assert mail.forwards == 3
    assert "Send this to 10 friends" in mail.forwarded
    assert "Send this" not in mail.own
    assert "Send this to 10 friends" in mail.sent


def test_html_by_parser_with_blockquote_and_scripts():
    own, quoted = html_to_text(
        "<html><head><style>p{color:red}</style><script>var x='fuck';</script></head>"
        "<body><p>Hello&nbsp;<b>class</b></p><div class='gmail_quote'><blockquote>"
        "old text</blockquote></div><p>Bye</p></body></html>")
    assert own == "Hello class\nBye"
    assert quoted == "old text"


def test_html_text_a_client_may_show_is_read():
    """Only scripts, style sheets and templates are never shown; text in <head>, <noscript>,
    <object> or an <svg>'s <text> can be, and once went unscored."""
    own, _ = html_to_text(
        "<html><head><title>t</title>you slag</head><body><p><noscript>die</noscript></p>"
        "<object data='x'>loser</object><svg><text x='0' y='9'>freak</text></svg>"
        "<template>inert</template><input value='creep' placeholder='weirdo'>"
        "<input type='hidden' value='0080ff'></body></html>")
    assert own.split() == ["t", "you", "slag", "die", "loser", "freak", "creep", "weirdo"]


def test_html_only_message_is_converted_and_plain_preferred():
    mail = from_parts("s", [("html", "<p>Hi <i>there</i></p>")])
    assert mail.own == "s\nHi there"
    same = from_parts("s", [("plain", "Hi there,\nsee you at 4"),
                            ("html", "<p>Hi <b>there</b>,</p><p>see you at 4</p>")])
    assert same.own == "s\nHi there,\nsee you at 4"      # said once, as the plain text


def test_html_cannot_hide_behind_a_benign_plain_alternative():
    """Clients show the HTML: its lines holding words the plain text lacks are read too."""
    mail = from_parts("s", [("plain", "Hi there, see you at 4"),
                            ("html", "<p>Hi there, see you at 4</p><p>you fat slag</p>"
                                     "<blockquote>you are all vermin</blockquote>")])
    assert mail.own == "s\nHi there, see you at 4\nyou fat slag"
    assert mail.quoted == "you are all vermin"
    # words the plain part only quotes are not the sender's: shown as their own, they count
    mail = from_parts("s", [("plain", "ok\n> you fat slag"), ("html", "<p>ok</p><p>you fat slag</p>")])
    assert mail.own == "s\nok\nyou fat slag" and mail.quoted == "you fat slag"


def test_lines_tidied_by_split_are_lines_tidied_by_the_pattern():
    """`_tidy` drops blank lines and spaces around line breaks by splitting lines, for
    speed: the same text as the one substitution it replaced, on text built of the
    characters that decide it (spaces, line breaks, other blanks and separators)."""
    import random
    import re

    from classifiers.mailtext import _BLANKS, _tidy

    def by_pattern(text: str) -> str:
        text = _BLANKS.sub(" ", text)
        return re.sub(r" *\n[ \n]*", "\n", text).strip()

    rng = random.Random(0)
    alphabet = " \n\t\xa0\r\u2028\x1cab"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
             for _ in range(50_000)]
    texts += ["Dear all,\n\n  Trip on Friday.  \n \n\nThanks\n", " \n \n", "\n\na\n\n"]
    for text in texts:
        assert _tidy(text) == by_pattern(text), repr(text)


def test_plain_lines_sorted_in_bulk_are_lines_sorted_one_by_one():
    """split_reply looks only at the lines that can be a marker or a quote and sorts the
    rest in bulk: the same split as looking at every line, on text built of markers,
    quotes, colons and the blanks str.strip strips (some of which are not line breaks
    for split("\\n")), and on the real mail."""
    import random

    from classifiers.mailtext import Split, sort_lines, split_reply

    def line_by_line(text: str) -> Split:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return sort_lines(lines, range(len(lines)), Split())

    rng = random.Random(0)
    pieces = ["> quoted", "-----Original Message-----", "On Mon, Bob wrote:", "From: a@b",
              "Sent: Monday", "---------- Forwarded message ----------", "Fwd:", "bob",
              "Ok", "for", "- item", "note:", "x :", ":", "http://a.example/", "plain words",
              " ", "\t", "\xa0", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000",
              "\n", "\n", "\n", "\r\n", "\r", ">"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
             for _ in range(20_000)]
    texts += staged_mail()
    for text in texts:
        assert split_reply(text) == line_by_line(text), repr(text)
