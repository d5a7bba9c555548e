"""The one parsed view of a message that every check reads.

The raw bytes are parsed once, here, into headers, text parts and attachments. The
walk is bounded (depth, part count, decoded bytes): past a bound the walk stops and
the message says so in `limits_exceeded`, which a check turns into a finding. Hostile
input never raises out of `Message.parse`; what the parser could not make sense of is
kept in `defects`.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cached_property

# The stdlib's default policy raises on some malformed headers when they are read;
# `compat32`-style raw access is kept for those through `header_raw`.
_POLICY = email.policy.default.clone(max_line_length=None)


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_parts: int = 500
    max_decoded_bytes: int = 100 * 1024 * 1024


@dataclass
class Part:
    """One leaf of the MIME tree, decoded."""

    path: str                  # "1.2" style, as a reviewer would point at it
    declared_type: str         # the Content-Type the sender claimed
    filename: str | None
    disposition: str | None
    payload: bytes
    depth: int
    charset: str | None = None
    is_attachment: bool = False

    @property
    def size(self) -> int:
        return len(self.payload)

    @cached_property
    def true_type(self) -> str:
        """The MIME type libmagic finds in the bytes, whatever the sender declared."""
        return sniff_type(self.payload)

    @cached_property
    def true_description(self) -> str:
        return sniff_description(self.payload)


@dataclass
class TextPart:
    path: str
    kind: str                  # "plain" or "html"
    text: str


@dataclass
class Message:
    raw: bytes
    email: EmailMessage
    text_parts: list[TextPart] = field(default_factory=list)
    attachments: list[Part] = field(default_factory=list)
    parts_seen: int = 0
    max_depth_seen: int = 0
    decoded_bytes: int = 0
    defects: list[str] = field(default_factory=list)
    limits_exceeded: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: bytes, limits: Limits | None = None) -> Message:
        limits = limits or Limits()
        # The stdlib parses every part's headers (about 1 ms a part with the default
        # policy) before the walk below can stop at max_parts: 10,000 one-byte parts
        # cost 12 s of CPU. Count the delimiter lines first and parse only the
        # top-level headers of a message that is over the bound anyway.
        delimiters = _count_delimiters(raw) if raw.count(b"\n--") > limits.max_parts else 0
        if delimiters > limits.max_parts:
            parsed = email.parser.BytesParser(policy=_POLICY).parsebytes(raw, headersonly=True)
            msg = cls(raw=raw, email=parsed, parts_seen=delimiters)  # type: ignore[arg-type]
            msg.limits_exceeded.append(f"more than {limits.max_parts} MIME parts")
            return msg
        parsed = email.message_from_bytes(raw, policy=_POLICY)
        msg = cls(raw=raw, email=parsed)  # type: ignore[arg-type]
        msg._walk(parsed, path="1", depth=0, limits=limits)
        return msg

    # -- headers -------------------------------------------------------------

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def header(self, name: str, default: str = "") -> str:
        """A header's decoded value, or `default`; never raises on a malformed header."""
        try:
            value = self.email.get(name)
        except Exception:  # noqa: BLE001 - hostile headers break the stdlib's parser
            value = self.header_raw(name)
        return default if value is None else str(value)

    def header_all(self, name: str) -> list[str]:
        try:
            return [str(v) for v in (self.email.get_all(name) or [])]
        except Exception:  # noqa: BLE001
            return [v for k, v in self.email.raw_items() if k.lower() == name.lower()]

    def header_raw(self, name: str) -> str | None:
        for key, value in self.email.raw_items():
            if key.lower() == name.lower():
                return str(value)
        return None

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def message_id(self) -> str:
        return self.header("Message-ID").strip()

    @cached_property
    def from_parsed(self) -> tuple[str, str]:
        """(display name, address) of the From header; ("", "") if there is none."""
        name, addr = email.utils.parseaddr(self.header("From"))
        return name.strip(), addr.strip()

    @property
    def from_address(self) -> str:
        return self.from_parsed[1]

    @property
    def from_display_name(self) -> str:
        return self.from_parsed[0]

    @property
    def reply_to_addresses(self) -> list[str]:
        return [a for _, a in email.utils.getaddresses(self.header_all("Reply-To")) if a]

    # -- body ----------------------------------------------------------------

    def text(self, kinds: tuple[str, ...] = ("plain", "html")) -> str:
        return "\n".join(t.text for t in self.text_parts if t.kind in kinds)

    def _walk(self, part: EmailMessage, path: str, depth: int, limits: Limits) -> None:
        if self.limits_exceeded:
            return
        self.parts_seen += 1
        self.max_depth_seen = max(self.max_depth_seen, depth)
        if self.parts_seen > limits.max_parts:
            self.limits_exceeded.append(f"more than {limits.max_parts} MIME parts")
            return
        if depth > limits.max_depth:
            self.limits_exceeded.append(f"MIME nesting deeper than {limits.max_depth}")
            return
        self.defects.extend(f"{path}: {type(d).__name__}" for d in part.defects)

        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                self.defects.append(f"{path}: multipart without parts")
                return
            for i, child in enumerate(children, start=1):
                self._walk(child, f"{path}.{i}", depth + 1, limits)
            return

        ctype = _safe(part.get_content_type, "application/octet-stream")
        filename = _safe(part.get_filename, None)
        disposition = _safe(part.get_content_disposition, None)
        payload = _decoded_payload(part)
        self.decoded_bytes += len(payload)
        if self.decoded_bytes > limits.max_decoded_bytes:
            self.limits_exceeded.append(
                f"more than {limits.max_decoded_bytes} bytes once decoded")
            return

        if ctype == "message/rfc822" or (ctype.startswith("message/") and payload):
            # An attached message is both an attachment (reviewers see it) and a
            # tree to walk (its attachments are as dangerous as the outer ones).
            self.attachments.append(Part(path, ctype, filename or "message.eml",
                                         disposition, payload, depth, None, True))
            inner = email.message_from_bytes(payload, policy=_POLICY)
            self._walk(inner, f"{path}.1", depth + 1, limits)  # type: ignore[arg-type]
            return

        charset = _safe(part.get_content_charset, None)
        is_attachment = disposition == "attachment" or bool(filename)
        if ctype in ("text/plain", "text/html") and not is_attachment:
            text = _decode_text(payload, charset)
            self.text_parts.append(TextPart(path, ctype.split("/")[1], text))
            return
        self.attachments.append(
            Part(path, ctype, filename, disposition, payload, depth, charset, True))


_BOUNDARY_PARAM = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^"\s;]{1,200}))',
                             re.IGNORECASE)
_DELIMITER_LINE = re.compile(rb"^--([^\r\n]{1,202})", re.MULTILINE)


def _count_delimiters(raw: bytes) -> int:
    """How many MIME delimiter lines ("--boundary", not the closing one) `raw` holds,
    for the boundaries it declares; one regex pass, so cheap on any input."""
    boundaries = {quoted or bare for quoted, bare in _BOUNDARY_PARAM.findall(raw)}
    if not boundaries:
        return 0
    count = 0
    for match in _DELIMITER_LINE.finditer(raw):
        line = match.group(1).rstrip(b" \t")
        if line in boundaries:
            count += 1
    return count


def _safe(fn, default):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - malformed parameters in hostile mail
        return default


def _decoded_payload(part: EmailMessage) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return payload


def _decode_text(payload: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def sniff_type(data: bytes) -> str:
    import magic  # libmagic; imported late so that a parse alone does not need it

    return magic.from_buffer(data[:65536], mime=True) if data else "application/x-empty"


def sniff_description(data: bytes) -> str:
    import magic

    return magic.from_buffer(data[:65536]) if data else "empty"
