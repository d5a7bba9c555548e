"""The report address end to end: staff forward offensive mail to the running relay
with a real SMTP client (from the academy mail server's address), and the report is
linked to the copy the gateway delivered or held; everyone else is refused."""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from email.policy import SMTP

import pytest
from sqlalchemy import select

from quarantine.store.models import HeldMessage, KeptMessage, Report, Trace
from tests.reports.forwards import (
    REPORT,
    as_arf,
    as_attachment,
    as_attachments,
    as_inline_outlook,
    dated,
)
from tests.reports.outlook import Outlook, msg_file
from tests.support import (
    PUPIL,
    STAFF,
    TRUSTED_IP,
    audit_actions,
    in_store,
    make_message,
    wait_until,
)

OTHER_STAFF = "s.patel@stchristophers.example"
REVIEWERS = ("head@stchristophers.example", "dsl@stchristophers.example")


def rows(store_url, model, *where):
    async def work(session):
        return list((await session.scalars(select(model).where(*where))).all())
    return in_store(store_url, work)


def reports(store_url):
    async def work(session):
        return list((await session.scalars(select(Report).order_by(Report.created_at))).all())
    return in_store(store_url, work)


def mailbox_copy(delivered: bytes) -> bytes:
    """What the recipient's mailbox holds: the delivered bytes without the sink's line."""
    return delivered.split(b"\r\n", 1)[1]


def notices(sink, report_id: str) -> dict[str, bytes]:
    """The alert and the acknowledgement about a report, by envelope recipients."""
    found = {}
    for m in sink.messages():
        if f"X-Aupgate-Report: {report_id}".encode() in m:
            envelope = m.split(b"\r\n", 1)[0].decode()
            found[envelope.split(" -> ")[1]] = m
    return found


@dataclass
class GatewayCopy:
    source: str          # kept (delivered) or held (escalated by the content policy)
    id: str
    trace_id: str
    raw: bytes
    sha256: str


def gateway_copy(store_url) -> GatewayCopy | None:
    for k in rows(store_url, KeptMessage):
        return GatewayCopy("kept", k.trace_id, k.trace_id, k.raw, k.sha256)
    for h in rows(store_url, HeldMessage):
        return GatewayCopy("held", h.id, h.trace_id, h.raw, h.sha256)
    return None


def linked(report, copy: GatewayCopy) -> bool:
    ids = {"kept": report.kept_id, "held": report.held_id}
    return (report.source == copy.source and report.authentic
            and ids[copy.source] == copy.id and report.trace_id == copy.trace_id
            and report.raw == copy.raw and report.sha256 == copy.sha256
            and hashlib.sha256(report.raw).hexdigest() == copy.sha256)


def deliver_original(gw, sink, store_url, subject="You are pathetic"):
    msg = dated(make_message("troll@example.org", [STAFF], subject=subject,
                             body="Nobody at your school can stand you.\n"))
    with gw.smtp() as client:
        client.send_message(msg)
    delivered = wait_until(lambda: [m for m in sink.messages()
                                    if m.split(b"\r\n", 1)[0].endswith(f"-> {STAFF}".encode())])
    copy = wait_until(lambda: gateway_copy(store_url), timeout=15)
    return msg, delivered[0], copy


def test_forward_as_attachment_becomes_a_report_on_the_delivered_copy(gateway, sink,
                                                                      store_url):
    msg, delivered, kept = deliver_original(gateway, sink, store_url)
    report_mail = as_attachment(STAFF, mailbox_copy(delivered),
                                "This came in last night.").as_bytes(policy=SMTP)
    with gateway.smtp(TRUSTED_IP) as client:
        assert client.sendmail(STAFF, [REPORT], report_mail) == {}

    [report] = reports(store_url)
    assert (report.reporter, report.how, report.note) == (STAFF, "attachment",
                                                          "This came in last night.")
    assert linked(report, kept)
    assert report.message_id == msg["Message-ID"] and report.status == "new"
    assert report.duplicate_of is None and report.findings is not None
    assert "report.create" in audit_actions(store_url)

    # the reviewers' alert and the reporter's acknowledgement reach the downstream server
    got = wait_until(lambda: (n := notices(sink, report.id)) and len(n) == 2 and n, timeout=15)
    assert got, f"notices: {[m[:200] for m in sink.messages()]}"
    alert = got[", ".join(REVIEWERS)]
    assert b"This came in last night." in alert and b"the copy the gateway" in alert
    assert STAFF.encode() in alert and f"/reports/{report.id}".encode() in alert
    assert b"Thank you" in got[STAFF]
    assert not [m for m in sink.messages() if REPORT.encode() in m.split(b"\n", 1)[0]], \
        "the report mail itself is never delivered"

    # the same report mail again (a retry) is one report; another colleague's report of
    # the same message links to the first, and mail to others beside the report address
    # is relayed as usual
    with gateway.smtp(TRUSTED_IP) as client:
        client.sendmail(STAFF, [REPORT], report_mail)
    second = as_attachment(OTHER_STAFF, mailbox_copy(delivered), "Me too")
    second.replace_header("To", f"{REPORT}, {STAFF}")
    with gateway.smtp(TRUSTED_IP) as client:
        assert client.send_message(second, to_addrs=[REPORT, STAFF]) == {}
    first, again = reports(store_url)
    assert first.id == report.id and again.reporter == OTHER_STAFF
    assert again.duplicate_of == report.id and again.sha256 == report.sha256
    assert wait_until(lambda: any(b"Me too" in m and f"-> {STAFF}\r\n".encode() in m
                                  for m in sink.messages()))


def test_arf_report_is_linked_to_the_held_copy(gateway_factory, sink, store_url):
    gw = gateway_factory(**{"allowlist.unapproved_sender_to_pupil": "hold",
                            "checks.content.enabled": False})   # a faster start
    msg = dated(make_message("stranger@example.net", [PUPIL, STAFF], subject="Meet me",
                             body="Don't tell your parents.\n"))
    with gw.smtp() as client:
        client.send_message(msg)
    delivered = sink.wait_for(1)[0]
    [held] = rows(store_url, HeldMessage)
    with gw.smtp(TRUSTED_IP) as client:
        client.sendmail(STAFF, [REPORT], as_arf(STAFF, mailbox_copy(delivered),
                                                "Sent to a pupil too"))
    [report] = reports(store_url)
    assert report.how == "arf" and report.note == "Sent to a pupil too"
    assert (report.source, report.held_id, report.authentic) == ("held", held.id, True)
    assert report.raw == held.raw and report.sha256 == held.sha256


def test_inline_forward_is_linked_by_sender_date_and_subject(gateway, sink, store_url):
    msg, _, kept = deliver_original(gateway, sink, store_url, subject="Your class is a joke")
    with gateway.smtp(TRUSTED_IP) as client:
        client.send_message(as_inline_outlook(STAFF, msg, "See below. Horrible."))
    [report] = reports(store_url)
    assert (report.how, report.note) == ("inline", "See below. Horrible.")
    assert linked(report, kept)

    # a message the gateway never saw: the forwarded copy, marked as such
    unseen = dated(make_message("someone@example.com", [STAFF], subject="Never passed here",
                                body="You are a fucking useless idiot and everyone hates "
                                     "you.\n"))
    with gateway.smtp(TRUSTED_IP) as client:
        client.send_message(as_inline_outlook(STAFF, unseen, "Got this on my phone"))
    _, other = reports(store_url)
    assert other.source == "forwarded" and not other.authentic and other.trace_id is None
    assert b"useless idiot" in other.raw and b"X-Aupgate-Forwarded-Copy" in other.raw
    # run through the checks and the classifier like live mail
    assert other.severity in ("serious", "gross") and other.category == "content"
    assert any(f["code"].startswith(f"content.{other.severity}.") for f in other.findings)


REFUSED = [
    (PUPIL, TRUSTED_IP, b"only members of staff"),
    ("stranger@example.net", TRUSTED_IP, b"only members of staff"),
    ("stranger@example.net", "127.0.0.1", b"from the trust's staff only"),
    (STAFF, "127.0.0.1", b"from the trust's staff only"),   # our address, from outside
]


def test_reports_from_anyone_but_staff_are_refused(gateway_factory, sink, store_url):
    gateway = gateway_factory(**{"checks.content.enabled": False})
    for sender, source_ip, why in REFUSED:
        report_mail = as_attachment(sender, make_message("x@example.org", [STAFF]).as_bytes(),
                                    "spam")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            with gateway.smtp(source_ip) as client:
                client.send_message(report_mail, from_addr=sender, to_addrs=[REPORT])
        code, reply = refused.value.recipients[REPORT]
        assert code == 550 and reply.startswith(b"5.7.1") and why in reply, (sender, reply)
    assert reports(store_url) == [] and sink.messages() == []


def deliver(gw, sink, subject: str) -> bytes:
    """A message the gateway delivers to STAFF: its mailbox copy."""
    with gw.smtp() as client:
        client.send_message(dated(make_message("troll@example.org", [STAFF], subject=subject,
                                               body=f"{subject}: you are a disgrace.\n")))
    [delivered] = wait_until(lambda: [m for m in sink.messages()
                                      if f"Subject: {subject}\r\n".encode() in m])
    return mailbox_copy(delivered)


def send_report(gw, report_mail: bytes) -> tuple[int, bytes]:
    """The report mail through the relay from the academy mail server: DATA's reply."""
    with gw.smtp(TRUSTED_IP) as client:
        client.ehlo()
        assert client.mail(STAFF)[0] == 250 and client.rcpt(REPORT)[0] == 250
        return client.data(report_mail)


def test_an_outlook_msg_attached_to_a_report_mail_is_linked_and_a_damaged_one_refused(
        gateway_factory, sink, store_url):
    gw = gateway_factory(**{"checks.content.enabled": False})   # a faster start
    saved = deliver(gw, sink, "You are pathetic")
    [kept] = wait_until(lambda: rows(store_url, KeptMessage), timeout=15)
    data = msg_file(Outlook.of(saved))
    mail = as_attachments(STAFF, [], "Saved from Outlook",
                          files=(("You are pathetic.msg", data),)).as_bytes(policy=SMTP)
    code, reply = send_report(gw, mail)
    [report] = reports(store_url)
    assert code == 250 and f"report {report.id}".encode() in reply
    assert (report.how, report.note, report.subject) == ("attachment", "Saved from Outlook",
                                                          "You are pathetic")
    assert (report.source, report.kept_id, report.authentic) == ("kept", kept.trace_id, True)
    assert report.raw == kept.raw and report.sha256 == kept.sha256
    assert b"converted from an Outlook .msg file" in report.forwarded_raw

    # cut short in transfer or on disk: refused whole, with the file's name and what to do
    broken = as_attachments(STAFF, [saved], "Two of them",
                            files=(("Broken.msg", data[:len(data) // 2]),)).as_bytes(policy=SMTP)
    code, reply = send_report(gw, broken)
    assert code == 554 and reply.startswith(b"5.6.0"), reply
    assert b"'Broken.msg' cannot be read" in reply and b"save the message again" in reply
    assert len(reports(store_url)) == 1
    assert wait_until(lambda: [t for t in rows(store_url, Trace, Trace.verdict == "reject")
                               if t.smtp_reply.startswith("554 5.6.0")])


def test_several_attached_messages_are_several_reports_and_one_thank_you(
        gateway_factory, sink, store_url):
    gw = gateway_factory(**{"checks.content.enabled": False,
                            "reports.max_attached_messages": 3})
    subjects = ["First insult", "Second insult", "Third insult"]
    saved = [deliver(gw, sink, s) for s in subjects]
    kept = wait_until(lambda: (k := rows(store_url, KeptMessage)) and len(k) == 3 and k,
                      timeout=15)
    # Thunderbird attaches message/rfc822, Outlook .msg files: one of each kind here
    mail = as_attachments(STAFF, saved[:2], "All from the same person this week",
                          files=(("Third insult.msg", msg_file(Outlook.of(saved[2]))),)
                          ).as_bytes(policy=SMTP)
    code, reply = send_report(gw, mail)
    got = reports(store_url)
    assert code == 250 and b"Ok: 3 reports" in reply, reply
    assert sorted(r.subject for r in got) == sorted(subjects)
    by_sha = {k.sha256: k for k in kept}
    for report in got:
        assert report.note == "All from the same person this week" and report.how == \
            "attachment"
        assert report.source == "kept" and report.authentic and report.duplicate_of is None
        assert by_sha[report.sha256].raw == report.raw and report.kept_id == \
            by_sha[report.sha256].trace_id

    # an alert per report for the reviewers; one thank-you that says how many
    def sent():
        found = [m for m in sink.messages() if b"X-Aupgate-Report:" in m]
        return len(found) == 4 and found
    notices_ = wait_until(sent, timeout=15)
    assert notices_, [m[:300] for m in sink.messages()]
    [thanks] = [m for m in notices_ if m.split(b"\r\n", 1)[0].endswith(f"-> {STAFF}".encode())]
    text = " ".join(thanks.decode().split())
    assert "Your report of 3 messages" in text and "All 3 were recorded" in text
    assert all(f'"{s}"' in text and r.id in text for s in subjects for r in got
               if r.subject == s)
    alerts = [m for m in notices_ if m is not thanks]
    assert sorted(r.id for r in got) == sorted(
        m.split(b"X-Aupgate-Report: ", 1)[1][:32].decode() for m in alerts)

    # the same mail again (a client's retry) is the same three reports
    code, reply = send_report(gw, mail)
    assert code == 250 and b"Ok: 3 reports" in reply and len(reports(store_url)) == 3

    # past the limit: refused whole, saying what to do; nothing recorded
    four = as_attachments(STAFF, saved + [saved[0]], "four").as_bytes(policy=SMTP)
    code, reply = send_report(gw, four)
    assert code == 554 and b"attaches 4 messages" in reply and b"at most 3" in reply, reply
    assert len(reports(store_url)) == 3
