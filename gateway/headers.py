"""Editing the header block of raw message bytes without re-serialising the message.

Delivered mail must keep its bytes exactly (a DKIM signature covers them), so headers
are removed and prepended on the raw bytes: the header block is split into fields
(with their folded continuation lines) and the body is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_HEADER_END = re.compile(rb"\r?\n\r?\n")


def split_header_block(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its own line ending and folds) and the rest."""
    m = _HEADER_END.search(raw)
    if m is None:
        head, rest = raw, b""
    else:
        end_of_last_field = raw.index(b"\n", m.start()) + 1
        head, rest = raw[:end_of_last_field], raw[end_of_last_field:]
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields, rest


def field_name(field: bytes) -> str:
    return field.split(b":", 1)[0].decode("ascii", "replace").strip().lower()


def field_value(field: bytes) -> str:
    return field.split(b":", 1)[1].decode("utf-8", "replace").strip() if b":" in field else ""


def edit_headers(raw: bytes, *, add: Iterable[tuple[str, str]] = (),
                 remove: Iterable[Callable[[str, str], bool]] = ()) -> bytes:
    """Drop fields for which any `remove(name, value)` is true; prepend `add` in order."""
    removers = list(remove)
    fields, rest = split_header_block(raw)
    if removers:
        fields = [f for f in fields
                  if not any(r(field_name(f), field_value(f)) for r in removers)]
    added = b"".join(format_field(name, value) for name, value in add)
    return added + b"".join(fields) + rest


def format_field(name: str, value: str) -> bytes:
    """One header field, folded at spaces to stay under 78 characters where it can."""
    value = " ".join(value.replace("\r", " ").replace("\n", " ").split())
    line = f"{name}: "
    out = []
    for word in value.split(" "):
        if len(line) + len(word) > 76 and line.strip() and not line.endswith(": "):
            out.append(line.rstrip() + "\r\n")
            line = "\t"
        line += word + " "
    out.append(line.rstrip() + "\r\n")
    return "".join(out).encode("utf-8")


def is_named(*names: str) -> Callable[[str, str], bool]:
    wanted = {n.lower() for n in names}
    return lambda name, _value: name in wanted


def has_prefix(prefix: str) -> Callable[[str, str], bool]:
    prefix = prefix.lower()
    return lambda name, _value: name.startswith(prefix)
