"""Find the reported message inside a report mail, and the reporter's own words.

Mail clients forward in three ways, tried in this order:

- an ARF report (RFC 5965): `multipart/report; report-type=feedback-report`, as report
  buttons send, carrying the message as `message/rfc822` or its headers as
  `text/rfc822-headers`; the note is the human-readable first part;
- forward as attachment: a `message/rfc822` part (or an attached `.eml`/`.msg` file);
  the note is the forward's own text;
- an inline forward: the client's marker line (Outlook's "Original Message" or its rule,
  Gmail's and Thunderbird's "Forwarded message", Apple's "Begin forwarded message:")
  and/or a header block of From/Sent/Date/To/Subject, then the body; the note is the
  text above it.

Nothing here raises on hostile input: a report mail in which no message is found is
itself the report (`how="plain"`), so that a reviewer still sees it.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from html.parser import HTMLParser

_POLICY = email.policy.compat32
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # Outlook .msg (OLE2 compound file)


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


def extract(raw: bytes) -> Extracted:
    msg = email.message_from_bytes(raw, policy=_POLICY)
    return (_arf(msg) or _attached(msg) or _inline(msg)
            or Extracted("plain", raw, own_text(msg).strip()))


def extract_upload(data: bytes, note: str) -> Extracted:
    """An uploaded `.eml` or `.msg` file is the reported message itself."""
    return Extracted("upload", msg_to_eml(data) if data.startswith(OLE_MAGIC) else data, note)


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


def _attached(msg: EmailMessage) -> Extracted | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        filename = (_safe(part.get_filename) or "").lower()
        if ctype == "message/rfc822":
            return Extracted("attachment", _inner_bytes(part), own_text(msg).strip())
        if filename.endswith(".eml"):
            return Extracted("attachment", _payload_bytes(part), own_text(msg).strip())
        if filename.endswith(".msg"):
            data = _payload_bytes(part)
            if data.startswith(OLE_MAGIC):
                return Extracted("attachment", msg_to_eml(data), own_text(msg).strip())
    return None


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


def msg_to_eml(data: bytes) -> bytes:
    """An Outlook .msg file as an RFC 5322 message (headers as Outlook kept them)."""
    import extract_msg

    msg = extract_msg.openMsg(data)
    try:
        header = msg.header   # the transport headers, when Outlook kept them
        out = EmailMessage(policy=_POLICY)
        for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
            value = header.get(name) if header is not None else None
            if value is None:
                value = {"From": msg.sender, "To": msg.to, "Cc": msg.cc,
                         "Subject": msg.subject, "Date": msg.date,
                         "Message-ID": getattr(msg, "messageId", None)}[name]
            if value:
                out[name] = str(value)
        out["X-Aupgate-Forwarded-Copy"] = "converted from an Outlook .msg file"
        return _with_text(out, msg.body or "")
    finally:
        msg.close()
