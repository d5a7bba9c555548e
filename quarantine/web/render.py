"""Showing held mail safely.

- The body is shown as text by default (Jinja escapes it).
- HTML is shown only after nh3 has sanitised it: no scripts, styles, event handlers,
  forms or frames; images only from `data:` URIs; links lose their targets. It is served
  by its own route under `HTML_CSP` (`default-src 'none'` …, plus `sandbox`) into an
  `<iframe sandbox>`, so even a sanitiser bug can neither run script nor fetch anything.
- Attachments are listed with their declared and true type (libmagic) and what the
  checks said about them; they are never served.
- The raw source is shown escaped, as text.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

import nh3

HTML_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox")
MAX_TEXT = 200_000
MAX_SOURCE = 1_000_000
MAX_PARTS = 500
URL_ATTRIBUTES = {"href", "src", "cite", "longdesc", "background", "action", "srcset",
                  "poster", "usemap"}


@dataclass
class Attachment:
    path: str
    filename: str
    declared_type: str
    true_type: str
    size: int
    findings: list[dict] = field(default_factory=list)


@dataclass
class Rendered:
    headers: list[tuple[str, str]]
    text: str
    has_html: bool
    attachments: list[Attachment]
    problems: list[str]


@dataclass
class SafeHtml:
    html: str
    blocked_remote: int


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def true_type(data: bytes) -> str:
    try:
        import magic

        return magic.from_buffer(data[:65536], mime=True)
    except Exception:  # noqa: BLE001 - libmagic missing or confused: say so, never guess
        return "unknown"


def _payload(part) -> bytes:
    try:
        return part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001 - a broken transfer encoding
        return b""


def _text(part) -> str:
    data = _payload(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def html_to_text(markup: str) -> str:
    markup = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>|</h\d\s*>|</li\s*>", "\n", markup)
    text = html.unescape(nh3.clean(markup, tags=set(), clean_content_tags={"script", "style"}))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def render(raw: bytes, findings: list[dict]) -> Rendered:
    try:
        return _render(raw, findings)
    except Exception as e:  # noqa: BLE001 - e.g. nesting too deep for the stdlib parser
        return Rendered(headers=[], text=raw[:MAX_TEXT].decode("utf-8", errors="replace"),
                        has_html=False, attachments=[],
                        problems=[f"this message could not be parsed ({type(e).__name__}); "
                                  "its raw text is shown instead"])


def _render(raw: bytes, findings: list[dict]) -> Rendered:
    msg = parse(raw)
    headers = []
    problems = []
    for name, value in msg.raw_items():
        try:
            headers.append((name, str(msg.policy.header_factory(name, value))))
        except Exception:  # noqa: BLE001 - show what was there
            headers.append((name, str(value)))
    texts, htmls, attachments = [], [], []
    for n, (path, part) in enumerate(_walk(msg)):
        if n >= MAX_PARTS:
            problems.append(f"more than {MAX_PARTS} parts: the rest are not shown")
            break
        ctype = part.get_content_type()
        filename = part.get_filename() or ""
        disposition = part.get_content_disposition() or ""
        if part.is_multipart():
            continue
        if ctype == "text/plain" and not filename and disposition != "attachment":
            texts.append(_text(part))
        elif ctype == "text/html" and not filename and disposition != "attachment":
            htmls.append(_text(part))
        else:
            data = _payload(part)
            attachments.append(Attachment(
                path=path, filename=filename or "(no name)", declared_type=ctype,
                true_type=true_type(data), size=len(data),
                findings=_findings_about(findings, path, filename)))
    if texts:
        text = "\n\n".join(texts)
    elif htmls:
        text = html_to_text("\n".join(htmls))
    else:
        text = ""
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        problems.append(f"the text is longer than {MAX_TEXT} characters: the rest is cut")
    for defect in getattr(msg, "defects", [])[:5]:
        problems.append(f"malformed message: {type(defect).__name__}")
    return Rendered(headers=headers, text=text, has_html=bool(htmls),
                    attachments=attachments, problems=problems)


def _walk(msg, max_depth: int = 50):
    """Every part with its path ("1", "1.2", …), depth first, without recursion: a message
    held for absurd nesting must still be shown."""
    stack = [("1", msg, 0)]
    while stack:
        path, part, depth = stack.pop()
        yield path, part
        if part.is_multipart() and depth < max_depth:
            subs = part.get_payload() or []
            if not isinstance(subs, list):
                continue
            for i in range(len(subs), 0, -1):
                if hasattr(subs[i - 1], "get_content_type"):
                    stack.append((f"{path}.{i}", subs[i - 1], depth + 1))


def _findings_about(findings: list[dict], path: str, filename: str) -> list[dict]:
    out = []
    for f in findings:
        if not str(f.get("code", "")).startswith(("attachment.", "mime.")):
            continue
        data = f.get("data") or {}
        entries = [data, *[i for i in data.get("items") or [] if isinstance(i, dict)]]
        names = {str(e.get(k) or "") for e in entries for k in ("filename", "name")} - {""}
        parts = {str(e.get(k) or "") for e in entries for k in ("part", "where")} - {""}
        if (filename and (filename in names or filename in str(f.get("detail", "")))) \
                or path in parts:
            out.append(f)
    return out


def html_body(raw: bytes) -> str:
    try:
        msg = parse(raw)
    except Exception:  # noqa: BLE001 - unparseable: there is no HTML to show
        return ""
    for _path, part in _walk(msg):
        if (part.get_content_type() == "text/html" and not part.get_filename()
                and part.get_content_disposition() != "attachment"):
            return _text(part)
    return ""


def sanitise(markup: str) -> SafeHtml:
    """nh3 with nothing that can run or fetch: images only as data: URIs, no links."""
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if attribute in URL_ATTRIBUTES:
            if tag == "img" and attribute == "src" and value.strip().lower().startswith(
                    "data:image/"):
                return value
            if tag == "img" and attribute == "src":
                blocked += 1
            return None
        return value

    cleaned = nh3.clean(markup, clean_content_tags={"script", "style", "iframe", "object",
                                                    "embed", "template", "noscript", "svg",
                                                    "math", "form"},
                        attribute_filter=keep, link_rel=None,
                        url_schemes={"data", "http", "https", "cid", "mailto"})
    return SafeHtml(html=cleaned, blocked_remote=blocked)


def html_document(safe: SafeHtml) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            "<style>body{font:14px/1.4 sans-serif;margin:8px;color:#111;background:#fff}"
            "img{max-width:100%}</style></head><body>" + safe.html + "</body></html>")


def source_text(raw: bytes) -> tuple[str, bool]:
    cut = len(raw) > MAX_SOURCE
    return raw[:MAX_SOURCE].decode("utf-8", errors="replace"), cut


def label_text(raw: bytes | None) -> str:
    """The text a labelled example keeps for retraining: the body as plain text."""
    if not raw:
        return ""
    try:
        return render(raw, []).text[:100_000]
    except Exception:  # noqa: BLE001
        return ""


FORWARD_MARKERS = re.compile(
    r"(?im)^(-{2,}\s*(forwarded|original) message\s*-{2,}|begin forwarded message:)")


def looks_forwarded(raw: bytes | None, subject: str) -> bool:
    """Did the sender forward this rather than write it? (Appendix II: instigator.)"""
    if re.match(r"(?i)^\s*(fwd?|fw)\s*:", subject or ""):
        return True
    if not raw:
        return False
    try:
        for _path, part in _walk(parse(raw)):
            if part.get_content_type() == "message/rfc822":
                return True
    except Exception:  # noqa: BLE001 - unparseable
        return False
    return bool(FORWARD_MARKERS.search(render(raw, []).text))
