"""Mail as text: subject, plain and HTML parts, with the sender's own words told apart
from the text they quote (a reply) and the text they pass on (a forward).

The gateway gives `from_parts` the subject and its decoded text parts; datasets of raw
messages use `from_raw`. Quoted text is what someone else wrote and the sender replied
to: it is not blamed on the sender. Forwarded text is what the sender chose to send on
(Appendix I's "Volume"): it is reported separately so a finding can say so. A signature
(after a "-- " line) is the sender's own words: a signature line must not hide what
follows it from the check.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5",
          "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer", "td",
          "th", "dd", "dt", "title",
          "svg", "text", "object"}     # drawn in boxes of their own: not run into the next word
# Never shown: what a script, a style sheet or an inert template holds. Everything else
# may be: browsers move stray text out of <head>, mail clients run no scripts and so show
# <noscript>, an <object> that never loads shows what it holds, and <svg> draws its <text>.
_SKIP = {"script", "style", "template"}
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "divrplyfwdmsg",
                  "appendonsend", "ms-outlook-mobile-reference-message")


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.own: list[str] = []
        self.quoted: list[str] = []
        self._skip = 0
        self._quote_stack: list[bool] = []   # per open element: did it start a quote?
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        a = dict(attrs)
        cls = (a.get("class") or "").lower() + " " + (a.get("id") or "").lower()
        starts_quote = tag == "blockquote" or any(q in cls for q in _QUOTE_CLASSES)
        if tag not in {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area"}:
            self._quote_stack.append(starts_quote)
            self._quote += starts_quote
        if tag in _BLOCK:
            self._emit("\n")
        if tag == "img" and a.get("alt"):
            self._emit(f" {a['alt']} ")
        elif tag == "input" and (a.get("type") or "").lower() != "hidden":
            # a form field shows its value, or its placeholder
            for shown in (a.get("value"), a.get("placeholder")):
                if shown:
                    self._emit(f" {shown} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if tag in {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area"}:
            return
        if self._quote_stack:
            self._quote -= self._quote_stack.pop()
        if tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._emit(data)

    def _emit(self, text: str) -> None:
        (self.quoted if self._quote > 0 else self.own).append(text)


_BLANKS = re.compile(r"[ \t\r\f\v\xa0]+")


def _tidy(text: str) -> str:
    """Runs of blanks to one space, blank lines and spaces around line breaks dropped.
    The blanks' regex runs only if there is something for it to do (a 5 KB regex scan is
    ~0.08 ms). Lines are tidied by split and strip, not by a pattern: the same text (what
    `re.sub(r" *\n[ \n]*", "\n", text)` gives, then stripped) in a fifth of the time;
    and always, since on text with none of " \n", "\n " and "\n\n" it changes only what
    the final strip removes, and looking for them first cost more than it (a two-character
    needle that begins with a space is slow to find)."""
    if "  " in text or any(c in text for c in "\t\r\f\v\xa0"):
        text = _BLANKS.sub(" ", text)
    return "\n".join(filter(None, [line.strip(" ") for line in text.split("\n")])).strip()


def html_to_text(markup: str) -> tuple[str, str]:
    """(own text, quoted text) of an HTML body, by a real HTML parser."""
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser rarely raises; hostile input must not
        return _tidy(re.sub(r"<[^>]*>", " ", markup)), ""
    return _tidy("".join(parser.own)), _tidy("".join(parser.quoted))


_ATTRIBUTION = re.compile(
    r"^(?:on\b.{0,200}\bwrote:|.{0,120}\b(?:wrote|writes|a écrit|schrieb)\s*:)\s*$", re.I)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:original message|reply message)\s*-{2,}\s*$", re.I)
_OUTLOOK = re.compile(r"^\s*from:\s.+$", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*(?:sent|date|to|subject):\s", re.I)
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:|"
    r"-{2,}\s*forwarded by .*|-{3,}\s*fwd?:?.*-{3,}|fwd?:\s*$)", re.I)
# The first characters of a stripped line that can be a marker (forward, original
# message, Outlook header, "On ... wrote:"); other marker lines (attributions) end with a
# colon.
_MARKER_FIRST = frozenset("-bBfFoO")
_SUBJECT_FWD = re.compile(r"^\s*(?:(?:fwd?|fw|tr|wg)\s*:\s*|\[fwd?:)", re.I)


@dataclass
class Split:
    own: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    forwards: int = 0


def _starts_quote(stripped: str, nxt: str) -> bool:
    """Is this line (with the next) an attribution or an original-message header? The
    cheap string tests go first: most lines of a mail are none of these."""
    lower = stripped.lower()
    return bool(
        (lower.startswith("--") and _ORIGINAL.match(stripped))
        or (lower.endswith(":") and not lower.startswith(">") and _ATTRIBUTION.match(stripped))
        or (lower.startswith("on ") and nxt.endswith(":")
            and _ATTRIBUTION.match(f"{stripped} {nxt}"))
        or (lower.startswith("from:") and _OUTLOOK.match(stripped)
            and _OUTLOOK_NEXT.match(nxt)))


def split_reply(text: str, into: Split | None = None) -> Split:
    """Sort the lines of a plain-text body into own, quoted and forwarded."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return sort_lines(text.split("\n"), _lines_to_read(text), into or Split())


def sort_lines(lines: list[str], to_read, out: Split) -> Split:
    """Sort `lines` into `out`, looking at those whose indices `to_read` lists (in order):
    a line that can be a marker or a quote must be among them (see `_lines_to_read`); the
    lines between them are plain, and go in bulk where the last marker said."""
    mode, done = "own", 0
    for i in to_read:
        (out.forwarded if mode == "forwarded" else out.own).extend(lines[done:i])
        done = i + 1
        line = lines[i]
        stripped = line.strip()
        # Only a line that starts or ends like a marker (forward, attribution, original
        # message) is tested as one; most lines of a mail are not.
        if stripped[:1] in _MARKER_FIRST or stripped.endswith(":"):
            if _FORWARD.match(stripped):
                mode = "forwarded"
                out.forwards += 1
                continue
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if mode != "forwarded" and _starts_quote(stripped, nxt):
                # Everything after an attribution is the message replied to, unless the
                # replier writes between quoted lines (inline reply): those stay their own.
                rest = lines[i + 1:]
                quoted_style = any(r.lstrip().startswith(">") for r in rest)
                for r in rest:
                    if not quoted_style or r.lstrip().startswith(">"):
                        out.quoted.append(r.lstrip().lstrip(">").lstrip())
                    elif _FORWARD.match(r.strip()):
                        out.forwards += 1
                    else:
                        out.own.append(r)
                return out
        if stripped.startswith(">"):
            out.quoted.append(stripped.lstrip(">").lstrip())
        elif mode == "forwarded":
            out.forwarded.append(line)
        else:
            out.own.append(line)
    (out.forwarded if mode == "forwarded" else out.own).extend(lines[done:])
    return out


# A line that can be a marker (forward, original message, Outlook header, "On ... wrote:")
# or a quote: its first non-blank character is a marker's first (_MARKER_FIRST) or ">", or
# its last is a colon. [^\S\n] is what str.strip strips but the line break; each pattern
# opens with a literal, which re scans for ten times faster than for a line's start.
_MARKED_START = re.compile(r"\n[^\S\n]*[-bBfFoO>]")
_MARKED_FIRST_LINE = re.compile(r"[^\S\n]*[-bBfFoO>]")
_COLON_END = re.compile(r":[^\S\n]*(?=\n|\Z)")


def _lines_to_read(text: str) -> list[int]:
    """The indices of the lines of `text` (split at "\n") that split_reply must look at,
    in order: most lines of a mail are plain, and are sorted in bulk."""
    marks = [m.start() + 1 for m in _MARKED_START.finditer(text)]
    marks += [m.start() for m in _COLON_END.finditer(text)]
    if _MARKED_FIRST_LINE.match(text):
        marks.append(0)
    indices: list[int] = []
    line, at = 0, 0
    for mark in sorted(marks):
        line += text.count("\n", at, mark)
        at = mark
        if not indices or indices[-1] != line:
            indices.append(line)
    return indices


@dataclass(frozen=True)
class MailText:
    subject: str
    own: str            # subject and the sender's own words
    quoted: str         # text quoted from the message replied to
    forwarded: str      # text passed on in a forward
    forwards: int       # how many forward markers (subject Fwd: prefixes and body headers)

    @property
    def sent(self) -> str:
        """What the sender is answerable for: their words and what they passed on."""
        return "\n".join(t for t in (self.own, self.forwarded) if t)


_WORDS = re.compile(r"\w+")


def _unseen(text: str, words: set[str]) -> str:
    """The lines of `text` holding a word not in `words`."""
    return "\n".join(line for line in text.split("\n")
                     if not words.issuperset(_WORDS.findall(line.lower())))


def from_parts(subject: str, parts: list[tuple[str, str]]) -> MailText:
    """`parts` are (kind, text) with kind "plain" or "html", in message order.

    HTML is converted with a parser. When a message has plain text too, the plain text is
    read, and of the HTML only the lines holding a word the plain text does not say (as
    the sender's own or forwarded words; for the HTML's quoted text, anywhere): mail
    clients show the HTML, so a benign plain alternative must not hide what it says, and
    where the two say the same the text is not read twice.
    """
    split = Split()
    for kind, text in parts:
        if kind != "html":
            split_reply(text, split)
    html = [text for kind, text in parts if kind == "html"]
    has_plain = any(kind != "html" and text.strip() for kind, text in parts)
    if html and has_plain:      # most mail is one or the other: no words to collect
        said = set(_WORDS.findall("\n".join(split.own + split.forwarded).lower()))
        anywhere = said | set(_WORDS.findall("\n".join(split.quoted).lower()))
    for text in html:
        own, quoted = html_to_text(text)
        if has_plain:
            own, quoted = _unseen(own, said), _unseen(quoted, anywhere)
        if quoted:
            split.quoted.append(quoted)
        split_reply(own, split)
    subj = subject or ""
    prefixes = 0
    while _SUBJECT_FWD.match(subj):
        prefixes += 1
        subj = _SUBJECT_FWD.sub("", subj, count=1)
    subj = re.sub(r"^\s*(?:re|aw|sv)\s*:\s*", "", subj, flags=re.I).strip()
    own = _tidy("\n".join([subj] + split.own)) if subj else _tidy("\n".join(split.own))
    return MailText(subject=subj, own=own, quoted=_tidy("\n".join(split.quoted)),
                    forwarded=_tidy("\n".join(split.forwarded)),
                    forwards=prefixes + split.forwards)


def from_raw(raw: bytes, max_part_chars: int = 200_000) -> MailText:
    """A raw RFC 5322 message to MailText, with the stdlib parser (no gateway needed)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts: list[tuple[str, str]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html") or part.get_filename():
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:
            text = payload.decode("latin-1")
        parts.append((ctype.split("/")[1], text[:max_part_chars]))
    try:
        subject = str(msg.get("Subject") or "")
    except Exception:  # noqa: BLE001
        subject = ""
    return from_parts(subject, parts)
