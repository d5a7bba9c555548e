"""Mail text: HTML by a parser, quoted replies and forwards told apart from own words."""

from __future__ import annotations

from classifiers.mailtext import from_parts, html_to_text

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


def test_html_only_message_is_converted_and_plain_preferred():
    mail = from_parts("s", [("html", "<p>Hi <i>there</i></p>")])
    assert mail.own == "s\nHi there"
    both = from_parts("s", [("plain", "plain words"), ("html", "<p>html words</p>")])
    assert "plain words" in both.own and "html words" not in both.own
