"""Find the reported message inside a report mail, and the reporter's own words.

Mail clients forward in three ways, tried in this order:

- an ARF report (RFC 5965): `multipart/report; report-type=feedback-report`, as report
  buttons send, carrying the message as `message/rfc822` or its headers as
  `text/rfc822-headers`; the note is the human-readable first part;
- forward as attachment: `message/rfc822` parts (or attached `.eml`/`.msg` files);
  each is its own report, and the note, the forward's own text, is shared by them all;
- an inline forward: the client's marker line (Outlook's "Original Message" or its rule,
  Gmail's and Thunderbird's "Forwarded message", Apple's "Begin forwarded message:")
  and/or a header block of From/Sent/Date/To/Subject, then the body; the note is the
  text above it.

A report mail in which no message is found is itself the report (`how="plain"`), so
that a reviewer still sees it. Two things are refused, with a reason the reporter can
act on: more attached messages than the limit (`TooManyMessages`, counted before any is
converted), and an attached or uploaded `.msg` that cannot be read (`UnreadableMessage`).
Nothing else here raises on hostile input.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from html.parser import HTMLParser

_POLICY = email.policy.compat32
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # Outlook .msg (OLE2 compound file)
OUTLOOK_TYPE = "application/vnd.ms-outlook"


@dataclass
class Extracted:
    how: str              # arf | attachment | inline | upload | plain
    raw: bytes            # the reported message as the reporter's mail carried it
    note: str             # the reporter's own words
    headers_only: bool = False


@dataclass
class Keys:
    """What identifies a message when its bytes differ: for finding the gateway's copy."""

    message_id: str
    from_address: str
    from_name: str
    subject: str
    date: datetime | None


class UnreadableMessage(ValueError):
    """An attached or uploaded Outlook `.msg` that cannot be read."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} cannot be read: it is damaged, cut short, or not an "
                         f"Outlook message")


class TooManyMessages(ValueError):
    def __init__(self, count: int, limit: int) -> None:
        self.count, self.limit = count, limit
        super().__init__(f"{count} attached messages, more than the {limit} one report "
                         f"mail may carry")


def extract_all(raw: bytes, limit: int = 20) -> list[Extracted]:
    """Every message a report mail carries: one for an ARF or inline forward (or the
    mail itself), one per attached message, at most `limit` of them."""
    msg = email.message_from_bytes(raw, policy=_POLICY)
    arf = _arf(msg)
    if arf is not None:
        return [arf]
    parts = attached_messages(msg)
    if len(parts) > limit:
        raise TooManyMessages(len(parts), limit)
    if parts:
        note = own_text(msg).strip()
        return [Extracted("attachment", _attached_bytes(p), note) for p in parts]
    return [_inline(msg) or Extracted("plain", raw, own_text(msg).strip())]


def extract_upload(data: bytes, note: str, name: str = "the uploaded .msg file") -> Extracted:
    """An uploaded `.eml` or `.msg` file is the reported message itself."""
    return Extracted("upload", msg_to_eml(data, name) if data.startswith(OLE_MAGIC) else data,
                     note)


# -- the three forms -------------------------------------------------------------------

def _arf(msg: EmailMessage) -> Extracted | None:
    for part in msg.walk():
        if (part.get_content_type() != "multipart/report"
                or (part.get_param("report-type") or "").lower() != "feedback-report"):
            continue
        children = part.get_payload()
        if not isinstance(children, list):
            continue
        note = ""
        for child in children:
            ctype = child.get_content_type()
            if ctype == "text/plain" and not note:
                note = _text_of(child)
            elif ctype == "message/rfc822":
                return Extracted("arf", _inner_bytes(child), note.strip())
            elif ctype == "text/rfc822-headers":
                headers = _payload_bytes(child).rstrip(b"\r\n") + b"\r\n\r\n"
                return Extracted("arf", headers, note.strip(), headers_only=True)
    return None


def attached_messages(msg: EmailMessage) -> list[EmailMessage]:
    """The parts of a report mail that are messages: `message/rfc822`, or a file named
    `.eml` or `.msg` (or typed as Outlook's). Not the messages inside those: an attached
    message's own attachments belong to it."""
    found, stack = [], [msg]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        filename = (_safe(part.get_filename) or "").lower()
        if (ctype in ("message/rfc822", OUTLOOK_TYPE)
                or filename.endswith((".eml", ".msg"))):
            found.append(part)
        elif part.is_multipart() and not ctype.startswith("message/"):
            children = part.get_payload()
            stack[0:0] = children if isinstance(children, list) else []
    return found


def _attached_bytes(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        return _inner_bytes(part)
    filename = _safe(part.get_filename) or ""
    data = _payload_bytes(part)
    if filename.lower().endswith(".msg") or part.get_content_type() == OUTLOOK_TYPE:
        return msg_to_eml(data, filename or "the attached .msg file")
    return data


# Lines that open a forwarded message in the common clients' plain-text forwards.
MARKERS = re.compile(
    r"^[ \t]*(?:[>|][ \t]*)*(?:"
    r"-{2,}\s*Original Message\s*-{2,}"           # Outlook (plain text)
    r"|-{2,}\s*Forwarded message\s*-{2,}"         # Gmail, Thunderbird ("Forwarded Message")
    r"|Begin forwarded message:"                  # Apple Mail
    r"|_{10,}"                                    # Outlook (HTML forward as text)
    r")[ \t]*$", re.IGNORECASE | re.MULTILINE)
HEADER_LINE = re.compile(
    r"^\s*(?:[>|]\s*)*\**(From|Sent|Date|To|Cc|Subject|Reply-To)\**\s*:\**\s*(.*)$",
    re.IGNORECASE)


def _inline(msg: EmailMessage) -> Extracted | None:
    text = own_text(msg)
    if not text:
        return None
    lines = text.splitlines()
    marker_lines = {text.count("\n", 0, m.start()) for m in MARKERS.finditer(text)}
    for i, line in enumerate(lines):
        start = i + 1 if i in marker_lines else i
        while i in marker_lines and start < len(lines) and not lines[start].strip():
            start += 1
        if i not in marker_lines and not HEADER_LINE.match(line):
            continue
        headers, end = _header_block(lines, start)
        if "from" in headers and ("subject" in headers or "date" in headers
                                  or "sent" in headers):
            note = "\n".join(lines[:i]).strip()
            body = "\n".join(_unquote(lines[end:])).strip("\n") + "\n"
            return Extracted("inline", _rebuild(headers, body), note)
    return None


def _header_block(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    headers: dict[str, str] = {}
    i, last = start, None
    while i < len(lines):
        m = HEADER_LINE.match(lines[i])
        if m:
            last = m.group(1).lower()
            headers.setdefault(last, m.group(2).strip().strip("\t "))
        elif last and lines[i].strip() and lines[i][:1] in " \t" and last in ("to", "cc"):
            headers[last] += " " + lines[i].strip()   # a folded recipient list
        else:
            break
        i += 1
    return headers, i


def _unquote(lines: list[str]) -> list[str]:
    if lines and all(not ln.strip() or ln.lstrip().startswith(">") for ln in lines):
        return [re.sub(r"^\s*>\s?", "", ln) for ln in lines]
    return lines


def _rebuild(headers: dict[str, str], body: str) -> bytes:
    """A message made of the header block and body that an inline forward showed."""
    out = EmailMessage(policy=_POLICY)
    out["From"] = _addresses(headers.get("from", ""))
    for name in ("to", "cc", "reply-to"):
        if headers.get(name):
            out[name.title()] = _addresses(headers[name])
    out["Subject"] = headers.get("subject", "")
    shown = headers.get("date") or headers.get("sent") or ""
    when = parse_date(shown)
    out["Date"] = email.utils.format_datetime(when) if when else shown
    out["X-Aupgate-Forwarded-Copy"] = "rebuilt from an inline forward"
    return _with_text(out, body)


def _addresses(value: str) -> str:
    """An address list as a forward showed it, with only display names encoded."""
    pairs = email.utils.getaddresses([value])
    if not any("@" in addr for _, addr in pairs):
        return value if value.isascii() else str(email.header.Header(value, "utf-8"))
    return ", ".join(email.utils.formataddr((name, addr), charset="utf-8")
                     for name, addr in pairs if addr)


def _with_text(msg: EmailMessage, body: str) -> bytes:
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = 'text/plain; charset="utf-8"'
    msg["Content-Transfer-Encoding"] = "8bit"
    head = msg.as_bytes(policy=_POLICY.clone(linesep="\r\n")).split(b"\r\n\r\n")[0]
    text = "\r\n".join(body.splitlines()) + "\r\n"
    return head + b"\r\n\r\n" + text.encode("utf-8")


# -- what identifies a message ----------------------------------------------------------

def keys_of(raw: bytes) -> Keys:
    from gateway.message import decode_header_value

    msg = email.message_from_bytes(raw, policy=_POLICY)
    name, addr = email.utils.parseaddr(str(msg.get("From") or ""))
    if "@" not in addr:   # Outlook may show a name only
        name, addr = str(msg.get("From") or ""), ""
    return Keys(
        message_id=decode_header_value(msg.get("Message-ID") or "").strip(),
        from_address=addr.strip().lower(),
        from_name=decode_header_value(name).strip(),
        subject=decode_header_value(msg.get("Subject") or ""),
        date=parse_date(str(msg.get("Date") or "")))


def parse_date(text: str) -> datetime | None:
    """RFC 5322 dates, and the human ones that forwards show ("Sent: Sunday, 29 November
    2026 14:02", "Date: Sun, Nov 29, 2026 at 2:02 PM"); naive times are taken as UTC."""
    text = " ".join(text.split())
    if not text:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        from dateutil import parser as dateparser

        try:
            when = dateparser.parse(re.sub(r"\bat\b", " ", text), fuzzy=True)
        except (ValueError, OverflowError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- MIME helpers ------------------------------------------------------------------------

def own_text(msg: EmailMessage) -> str:
    """The text of a message's own body parts, not of messages attached to it: plain
    where there is plain, else HTML turned into text."""
    plain, html = [], []
    stack = [msg]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if ctype.startswith("message/") or part.get_content_disposition() == "attachment":
            continue
        if part.is_multipart():
            if ctype == "multipart/report":
                continue
            children = part.get_payload()
            stack[0:0] = children if isinstance(children, list) else []
            continue
        if ctype == "text/plain":
            plain.append(_text_of(part))
        elif ctype == "text/html":
            html.append(html_to_text(_text_of(part)))
    return "\n".join(plain or html)


def _text_of(part: EmailMessage) -> str:
    payload = _payload_bytes(part)
    for charset in (_safe(part.get_content_charset), "utf-8", "cp1252"):
        if charset:
            try:
                return payload.decode(charset).replace("\r\n", "\n")
            except (LookupError, UnicodeDecodeError):
                continue
    return payload.decode("latin-1")


def _payload_bytes(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken encodings in hostile mail
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _inner_bytes(part: EmailMessage) -> bytes:
    inner = part.get_payload()
    if isinstance(inner, list) and inner:
        return inner[0].as_bytes(policy=_POLICY.clone(linesep="\r\n"))
    return _payload_bytes(part)


def _safe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return None


class _Text(HTMLParser):
    BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "blockquote", "hr", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(ln.rstrip() for ln in text.splitlines()))


def msg_to_eml(data: bytes, name: str = "the .msg file") -> bytes:
    """An Outlook .msg file as an RFC 5322 message (headers as Outlook kept them).

    `UnreadableMessage` for anything extract-msg cannot read as a mail message."""
    import extract_msg

    if not data.startswith(OLE_MAGIC):
        raise UnreadableMessage(name)
    try:
        # A file object, never the bytes: olefile takes bytes shorter than 1536 for the
        # name of a file to open.
        msg = extract_msg.openMsg(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - anything a damaged file makes it raise
        raise UnreadableMessage(name) from e
    try:
        header = msg.header   # the transport headers, when Outlook kept them
        out = EmailMessage(policy=_POLICY)
        for field in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
            value = header.get(field) if header is not None else None
            if value is None:
                value = {"From": msg.sender, "To": msg.to, "Cc": msg.cc,
                         "Subject": msg.subject, "Date": msg.date,
                         "Message-ID": getattr(msg, "messageId", None)}[field]
            if isinstance(value, str) and not value.isascii() and field in ("From", "To",
                                                                              "Cc"):
                value = _addresses(value)   # "Zoë <zoe@…>": encode the name, not the address
            if isinstance(value, datetime):
                value = email.utils.format_datetime(
                    value if value.tzinfo else value.replace(tzinfo=UTC))
            if value:
                out[field] = str(value)
        out["X-Aupgate-Forwarded-Copy"] = "converted from an Outlook .msg file"
        return _with_text(out, msg.body or "")
    except Exception as e:  # noqa: BLE001 - a contact or task saved as .msg, broken streams
        raise UnreadableMessage(name) from e
    finally:
        msg.close()
