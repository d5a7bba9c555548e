"""Building messages, archives and envelopes for the attachment tests."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

from gateway.envelope import Audience, Direction, Envelope, Party
from gateway.message import Message

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Shared corpora live beside the project and are read in place, never copied in.
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def make_envelope(audience: Audience = Audience.PUPIL) -> Envelope:
    return Envelope(
        mail_from="sender@outside.example",
        sender=Party("sender@outside.example", Audience.EXTERNAL),
        recipients=[Party("pupil@stchristophers.example", audience)],
        client_ip="127.0.0.1", helo="outside.example", direction=Direction.INBOUND)


def make_message(*attachments: tuple[str | None, bytes, str], body: str = "See attached.") -> Message:
    """attachments: (filename, bytes, "maintype/subtype")."""
    msg = EmailMessage()
    msg["From"] = "sender@outside.example"
    msg["To"] = "pupil@stchristophers.example"
    msg["Subject"] = "attachments"
    msg.set_content(body)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return Message.parse(msg.as_bytes())


def make_zip(files: dict[str, bytes], *, level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def codes(findings) -> set[str]:
    return {f.code for f in findings}

