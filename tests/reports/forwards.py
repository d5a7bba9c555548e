"""Report mails as the common clients send them: attached, ARF, and inline forwards."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

REPORT = "report@stchristophers.example"


def _report(reporter: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = reporter
    msg["To"] = REPORT
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="stchristophers.example")
    return msg


def as_attachment(reporter: str, original: bytes, note: str) -> EmailMessage:
    """Outlook/Thunderbird "forward as attachment": the message as message/rfc822."""
    from email import message_from_bytes, policy

    msg = _report(reporter, "FW: offensive message")
    msg.set_content(note + "\n")
    msg.add_attachment(message_from_bytes(original, policy=policy.compat32),
                       filename="original.eml")
    return msg


def as_attachments(reporter: str, originals: list[bytes], note: str,
                   files: tuple[tuple[str, bytes], ...] = ()) -> EmailMessage:
    """One forward carrying several messages: each as message/rfc822 (Thunderbird,
    Gmail), and `files` as Outlook attaches saved messages (name.msg, its MIME type)."""
    from email import message_from_bytes, policy

    msg = _report(reporter, "FW: offensive messages")
    msg.set_content(note + "\n")
    for i, original in enumerate(originals):
        msg.add_attachment(message_from_bytes(original, policy=policy.compat32),
                           filename=f"message-{i + 1}.eml")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="vnd.ms-outlook",
                           filename=name)
    return msg


def as_arf(reporter: str, original: bytes, note: str, headers_only: bool = False) -> bytes:
    """An RFC 5965 feedback report, as a report button sends it."""
    boundary = "arf-boundary-42"
    part3 = (b"Content-Type: text/rfc822-headers\r\n\r\n" + original.split(b"\r\n\r\n")[0]
             + b"\r\n" if headers_only else
             b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + original)
    return (
        f"From: {reporter}\r\nTo: {REPORT}\r\nSubject: Abuse report\r\n"
        f"Message-ID: {make_msgid(domain='stchristophers.example')}\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=feedback-report;\r\n"
        f"\tboundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{note}\r\n"
        f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: ReportButton/1.0\r\nVersion: 1\r\n\r\n"
        f"--{boundary}\r\n").encode() + part3 + f"\r\n--{boundary}--\r\n".encode()


def as_inline_outlook(reporter: str, original: EmailMessage, note: str) -> EmailMessage:
    """Outlook's plain-text forward: the header block with "Sent:" and the body below."""
    when = parsedate_to_datetime(original["Date"])
    body = (f"{note}\n\n-----Original Message-----\n"
            f"From: {original['From']}\n"
            f"Sent: {when:%A, %d %B %Y %H:%M}\n"
            f"To: {original['To']}\n"
            f"Subject: {original['Subject']}\n\n"
            f"{original.get_content()}")
    msg = _report(reporter, f"FW: {original['Subject']}")
    msg.set_content(body)
    return msg


def as_inline_gmail(reporter: str, original: EmailMessage, note: str) -> EmailMessage:
    when = parsedate_to_datetime(original["Date"])
    body = (f"{note}\n\n---------- Forwarded message ---------\n"
            f"From: {original['From']}\n"
            f"Date: {when:%a, %b %d, %Y at %I:%M %p}\n"
            f"Subject: {original['Subject']}\n"
            f"To: {original['To']}\n\n\n"
            f"{original.get_content()}")
    msg = _report(reporter, f"Fwd: {original['Subject']}")
    msg.set_content(body)
    return msg


def dated(msg: EmailMessage) -> EmailMessage:
    from datetime import UTC, datetime

    if "Date" not in msg:
        msg["Date"] = format_datetime(datetime.now(UTC))
    return msg
