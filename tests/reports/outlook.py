"""Outlook `.msg` files for the tests, made the way Outlook lays them out.

A `.msg` file is an MS-CFB compound file (OLE2) holding MS-OXMSG property streams. The
properties are laid out here, one file or folder per stream or storage; the compound
file itself is written by libgsf's `gsf createole` (Debian `libgsf-bin`, which
scripts/install-test-deps installs): an independent CFB writer, not the library the
gateway reads them with (extract-msg, over olefile).

What is written (MS-OXMSG 2.1-2.4, property ids from MS-OXPROPS):

- `__properties_version1.0`: the property stream, a 32-byte header (next recipient and
  attachment ids, their counts) then 16-byte entries: tag, flags, and the value itself
  for fixed-size types (an int32, a FILETIME) or, for strings, the stream's size + 2;
- `__substg1.0_<id>001F`: each string property as UTF-16LE (subject 0037, body 1000,
  transport headers 007D, sender name/type/address 0C1A/0C1E/0C1F/5D01, the same for
  "sent representing" 0042/0064/0065, Internet Message-ID 1035, message class 001A);
- `__recip_version1.0_#00000000`: the recipient, with an 8-byte property-stream header;
- `__nameid_version1.0`: the named-property map (empty: no named properties).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PT_INT32, PT_TIME, PT_STRING = 0x0003, 0x0040, 0x001F
READABLE_WRITABLE = 0x2 | 0x4
MSGFLAG_READ = 0x1              # sent and read: not a draft (MSGFLAG_UNSENT is 0x8)
STORE_UNICODE_OK = 0x00040000   # strings are UTF-16 (the *001F streams)
MAPI_MAILUSER, MAPI_TO = 6, 1


def gsf_available() -> bool:
    return shutil.which("gsf") is not None


@dataclass
class Outlook:
    """What Outlook keeps of a received message."""

    subject: str
    body: str
    sender_name: str
    sender_address: str
    to_name: str
    to_address: str
    message_id: str
    sent: datetime
    transport_headers: str = ""   # "" when Outlook kept none (a draft, some IMAP stores)

    @classmethod
    def of(cls, raw: bytes, *, with_headers: bool = True) -> Outlook:
        """From a received message's bytes, as a mailbox holds them."""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        sender_name, sender = email.utils.parseaddr(str(msg["From"]))
        to_name, to = email.utils.parseaddr(str(msg["To"]))
        body = msg.get_body(("plain",))
        head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii")
        return cls(subject=str(msg["Subject"]), body=body.get_content() if body else "",
                   sender_name=sender_name or sender, sender_address=sender,
                   to_name=to_name or to, to_address=to, message_id=str(msg["Message-ID"]),
                   sent=email.utils.parsedate_to_datetime(str(msg["Date"])),
                   transport_headers=head.replace("\n", "\r\n") + "\r\n\r\n"
                   if with_headers else "")


def msg_file(o: Outlook) -> bytes:
    """The `.msg` file Outlook would save for `o`."""
    strings = {
        0x001A: "IPM.Note",
        0x0037: o.subject, 0x0E1D: o.subject,
        0x1000: o.body,
        0x0C1A: o.sender_name, 0x0C1E: "SMTP", 0x0C1F: o.sender_address,
        0x5D01: o.sender_address,
        0x0042: o.sender_name, 0x0064: "SMTP", 0x0065: o.sender_address,
        0x0E04: o.to_name,
        0x1035: o.message_id,
    }
    if o.transport_headers:
        strings[0x007D] = o.transport_headers
    fixed = {(0x0E07, PT_INT32): MSGFLAG_READ, (0x340D, PT_INT32): STORE_UNICODE_OK,
             (0x0039, PT_TIME): o.sent, (0x0E06, PT_TIME): o.sent}
    recipient = {0x3001: o.to_name, 0x3002: "SMTP", 0x3003: o.to_address,
                 0x39FE: o.to_address}
    recipient_fixed = {(0x0C15, PT_INT32): MAPI_TO, (0x0FFE, PT_INT32): MAPI_MAILUSER,
                       (0x3000, PT_INT32): 0}

    with tempfile.TemporaryDirectory(prefix="msg-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        header = struct.pack("<8xIIII8x", 1, 0, 1, 0)   # next recipient, attachment; counts
        _storage(root, header, strings, fixed)
        _storage(root / "__recip_version1.0_#00000000", bytes(8), recipient, recipient_fixed)
        names = root / "__nameid_version1.0"
        names.mkdir()
        for stream in ("00020102", "00030102", "00040102"):   # GUIDs, entries, strings
            (names / f"__substg1.0_{stream}").write_bytes(b"")
        out = Path(tmp) / "message.msg"
        # gsf adds each argument at the top of the compound file (a folder as a storage)
        subprocess.run(["gsf", "createole", str(out), *sorted(p.name for p in root.iterdir())],
                       cwd=root, check=True, capture_output=True, timeout=60)
        return out.read_bytes()


def _storage(folder: Path, header: bytes, strings: dict[int, str], fixed: dict) -> None:
    folder.mkdir(exist_ok=True)
    entries = []
    for prop_id, text in sorted(strings.items()):
        data = text.encode("utf-16-le")
        (folder / f"__substg1.0_{prop_id:04X}{PT_STRING:04X}").write_bytes(data)
        entries.append(struct.pack("<IIII", prop_id << 16 | PT_STRING, READABLE_WRITABLE,
                                   len(data) + 2, 0))
    for (prop_id, ptype), value in sorted(fixed.items()):
        entries.append(struct.pack("<II", prop_id << 16 | ptype, READABLE_WRITABLE)
                       + (struct.pack("<Q", filetime(value)) if ptype == PT_TIME
                          else struct.pack("<Ii", value, 0)))
    (folder / "__properties_version1.0").write_bytes(header + b"".join(entries))


def filetime(when: datetime) -> int:
    """A FILETIME: 100-nanosecond intervals since 1 January 1601 (UTC)."""
    delta = when.astimezone(UTC) - datetime(1601, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
