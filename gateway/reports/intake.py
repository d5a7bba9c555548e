"""A report, from the report mail (or upload) to the reviewers' queue.

At RCPT the report address takes mail only from the academy mail server with a sender
the directory lists as staff. At DATA each reported message is extracted (a mail may
attach several: each is its own report, the note shared), linked to the gateway's own
copy, run through the same checks and classifier as live mail, and all are committed in
one transaction; only then does the client get 250 (other recipients of the same mail
are relayed as usual). Reviewers are alerted and the reporter is thanked after the
commit: a notice that cannot be sent costs a notification, never the report. A client
retrying the same report mail gets the same reports; a later report of the same message
links to the first, which the database enforces between processes (see
`quarantine.store.reports`).

Uploads from the web app arrive as `pending` rows (the web app does not import the
gateway); `ReportWorker` completes them the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy.exc import IntegrityError

from gateway.directory import Directory
from gateway.envelope import Direction, Envelope, normalise_address
from gateway.findings import Finding
from gateway.pipeline import Pipeline
from gateway.relay import hold_category
from gateway.reports.extract import (
    Extracted,
    TooManyMessages,
    UnreadableMessage,
    extract_all,
    extract_upload,
    keys_of,
)
from gateway.reports.link import Link, find_original
from gateway.reports.settings import ReportsSettings
from gateway.tracing import TraceWriter
from quarantine.jobs import PeriodicJob
from quarantine.store import Store
from quarantine.store.held import new_id
from quarantine.store.models import Report
from quarantine.store.reports import by_submission, file_report, message_key, pending

log = logging.getLogger(__name__)

CONNECTION_CHECKS = ("auth",)
# Filing is tried again when another process filed the first report of the same message
# meanwhile (the unique first_key): the next try reads that report and links to it.
FILE_ATTEMPTS = 3


class ReportIntake:
    def __init__(self, settings: ReportsSettings, *, store: Store, pipeline: Pipeline,
                 directory: Directory, traces: TraceWriter, alerts=None,
                 reviewers: list[str] | None = None, web_url: str = "") -> None:
        self.settings = settings
        self.store = store
        # Sender authentication belongs to the connection and the moment: run again on a
        # copy, days later, it says nothing. Its findings from the time come from the trace.
        self.pipeline = Pipeline([c for c in pipeline.checks
                                  if c.name not in CONNECTION_CHECKS],
                                 pipeline.policy, pipeline.limits, pipeline.check_timeout)
        self.directory = directory
        self.traces = traces
        self.alerts = alerts
        self.reviewers = list(settings.reviewers or reviewers or [])
        self.web_url = web_url.rstrip("/")
        self._notices: set[asyncio.Task] = set()

    # -- SMTP ---------------------------------------------------------------------------

    def is_report_address(self, address: str) -> bool:
        return bool(self.settings.address) and \
            normalise_address(address).lower() == self.settings.address

    def rcpt_refusal(self, direction: Direction, mail_from: str) -> str | None:
        """None when this sender may report here; otherwise the 550 that says why."""
        where = f"550 5.7.1 <{self.settings.address}>:"
        if direction is not Direction.OUTBOUND:
            return (f"{where} this address takes reports of offensive mail from the trust's "
                    f"staff only, sent from their school account")
        listed = self.directory.listed(mail_from)
        if listed is None or listed.audience.value != "staff":
            return (f"{where} only members of staff can report mail here; pupils, please "
                    f"tell a teacher about anything that upset you")
        return None

    def addressed(self, envelope: Envelope) -> bool:
        return any(self.is_report_address(r.address) for r in envelope.recipients)

    async def take(self, raw: bytes, envelope: Envelope, relay,
                   early: list[Finding] | None = None) -> str:
        """DATA for a message with the report address among its recipients.

        One SMTP reply answers for every recipient: a report mail refused (too many
        attached messages, an unreadable .msg) is refused for the others beside it too,
        and the reporter's bounce says why."""
        ours = [r for r in envelope.recipients if self.is_report_address(r.address)]
        others = [r for r in envelope.recipients if not self.is_report_address(r.address)]
        where = f"<{self.settings.address}>:"
        reports: list[Report] = []
        try:
            found = await asyncio.to_thread(extract_all, raw,
                                            self.settings.max_attached_messages)
            reports = await self.receive_all(raw, found, envelope.mail_from,
                                             client=envelope.client_ip)
            reply = (f"250 2.0.0 Ok: report {reports[0].id}" if len(reports) == 1 else
                     f"250 2.0.0 Ok: {len(reports)} reports, {reports[0].id} and "
                     f"{len(reports) - 1} more")
        except TooManyMessages as e:
            reply = (f"554 5.6.0 {where} this mail attaches {e.count} messages; a report "
                     f"mail may attach at most {e.limit}: please send them in several mails")
        except UnreadableMessage as e:
            reply = (f"554 5.6.0 {where} the attachment {_printable(e.name)!r} cannot be "
                     f"read (damaged, cut short, or not an Outlook message): please save "
                     f"the message again, or forward it as an attachment")
        except Exception:  # noqa: BLE001 - the sender's server keeps it and retries
            log.exception("could not take a report from %s", envelope.mail_from)
            reply = "451 4.3.0 Cannot take this report now; try again later"
        keys = keys_of(raw)
        self.traces.add(
            id=new_id(), received_at=envelope.received_at, stage="data",
            direction=envelope.direction.value, client_ip=envelope.client_ip,
            helo=envelope.helo[:255], mail_from=envelope.mail_from,
            rcpt_tos=[r.address for r in ours], size=len(raw),
            message_id=keys.message_id[:998], subject=keys.subject[:2000],
            from_header=keys.from_address, sha256=hashlib.sha256(raw).hexdigest(),
            findings=[], decisions={}, duration_ms=0.0,
            verdict="report" if reports else "reject" if reply[0] == "5" else "defer",
            smtp_reply=reply)
        if others and reports:
            return await relay.process(raw, replace(envelope, recipients=others), early)
        return reply

    # -- both ways in ------------------------------------------------------------------------

    async def receive(self, submission: bytes, extracted: Extracted, reporter: str, *,
                      report_id: str | None = None, client: str = "") -> Report:
        """One report: an upload (`report_id`, its pending row) or one reported message."""
        return (await self.receive_all(submission, [extracted], reporter,
                                       report_id=report_id, client=client))[0]

    async def receive_all(self, submission: bytes, found: list[Extracted], reporter: str, *,
                          report_id: str | None = None, client: str = "") -> list[Report]:
        """Link, check and store the reports of one submission, all or none; alert and
        acknowledge once they are stored."""
        reporter = normalise_address(reporter).lower()
        submission_sha = hashlib.sha256(submission).hexdigest()
        if report_id is None:
            async with self.store.session() as session:
                earlier = await by_submission(session, reporter, submission_sha)
            if earlier:
                return earlier   # the same report mail again (a retry): the same reports
        checked = [await self._check(x, reporter, submission_sha) for x in found]
        filed = await self._file([fields for fields, _ in checked], report_id, client)
        self._notify([(report, first, link)
                      for (report, first), (_, link) in zip(filed, checked, strict=True)])
        return [report for report, _ in filed]

    async def _check(self, extracted: Extracted, reporter: str, submission_sha: str
                     ) -> tuple[dict, Link | None]:
        """The report's fields: the gateway's own copy when it has one, and what the
        checks and the classifier say about it."""
        keys = keys_of(extracted.raw)
        async with self.store.session() as session:
            link = await find_original(session, keys, reporter, self.settings.link_window_days)
        raw = link.raw if link is not None and link.raw is not None else extracted.raw
        outcome = await self.pipeline.run(raw, self._envelope(link, keys.from_address,
                                                              reporter))
        category, severity = hold_category(
            [c for d in outcome.decisions for c in d.drivers]
            or [f.code for f in outcome.findings if f.score])
        # The Message-ID the gateway recorded wins: it is what other reports of the same
        # message, however forwarded, are matched on.
        message_id = ((link.trace.message_id if link is not None else "")
                      or keys.message_id or outcome.message.message_id)
        return dict(
            reporter=reporter, note=extracted.note[:20000], how=extracted.how,
            source=link.source if link is not None else "forwarded",
            authentic=bool(link is not None and link.authentic),
            trace_id=link.trace.id if link is not None else None,
            held_id=link.held_id if link is not None else None,
            kept_id=link.kept_id if link is not None else None,
            sha256=link.sha256 if link is not None else hashlib.sha256(raw).hexdigest(),
            message_id=message_id[:998],
            subject=keys.subject or outcome.message.subject,
            from_header=outcome.message.header("From")[:2000],
            raw=raw, forwarded_raw=extracted.raw, submission_sha256=submission_sha,
            findings=[f.to_dict() for f in outcome.findings] + _then(link),
            category=category, severity=severity, status="new"), link

    async def _file(self, items: list[dict], report_id: str | None, client: str
                    ) -> list[tuple[Report, Report | None]]:
        # Filed in the order of their keys, whatever order the mail attached them in: two
        # mails attaching the same messages then wait on each other's first report instead
        # of deadlocking (PostgreSQL), and the later one links on its next attempt.
        order = sorted(range(len(items)), key=lambda i: message_key(
            items[i].get("message_id", ""), items[i]["sha256"]))
        for attempt in range(1, FILE_ATTEMPTS + 1):
            try:
                async with self.store.transaction() as session:
                    filed = {i: await file_report(session, items[i], report_id=report_id,
                                                  client=client) for i in order}
                    return [filed[i] for i in range(len(items))]
            except IntegrityError:
                if attempt == FILE_ATTEMPTS:
                    raise
                log.info("a report of the same message was filed meanwhile; linking to it")
        raise AssertionError("unreachable")

    def _envelope(self, link: Link | None, from_address: str, reporter: str) -> Envelope:
        d = self.directory
        if link is None:
            return Envelope(mail_from=from_address, sender=d.party(from_address),
                            recipients=[d.party(reporter)], client_ip="", helo="",
                            direction=Direction.INBOUND)
        t = link.trace
        return Envelope(mail_from=t.mail_from, sender=d.party(t.mail_from),
                        recipients=[d.party(reporter)], client_ip=t.client_ip, helo=t.helo,
                        direction=Direction(t.direction), received_at=t.received_at)

    # -- notices --------------------------------------------------------------------------------

    def _notify(self, filed: list[tuple[Report, Report | None, Link | None]]) -> None:
        """An alert to the reviewers for each report; one thank-you for the submission."""
        if self.alerts is None or not filed:
            return
        notices = []
        if self.reviewers:
            notices += [self._alert(report, first, link) for report, first, link in filed]
        if self.settings.acknowledge:
            notices.append(self._acknowledgement([(r, first) for r, first, _ in filed]))
        for msg in notices:
            task = asyncio.create_task(self.alerts.mail(msg))
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    def _notice(self, to: list[str], subject: str, body: str, *reports: Report
                ) -> EmailMessage:
        msg = EmailMessage()
        sender = self.alerts.config.from_address
        msg["From"] = sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = formatdate()
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        msg["X-Aupgate-Report"] = ", ".join(r.id for r in reports)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(body)
        return msg

    def _alert(self, report: Report, first: Report | None, link: Link | None) -> EmailMessage:
        copy = {
            "held": "the copy the gateway held",
            "kept": "the copy the gateway delivered",
            "trace": "the reporter's forwarded copy (the gateway passed this message on, "
                     "but no longer keeps its bytes)",
        }.get(report.source, "the reporter's forwarded copy (the gateway has no record "
                             "of this message)")
        shown = [f for f in report.findings if f.get("score") or f.get("severity") in (
            "medium", "high", "critical")]
        lines = [
            f"{report.reporter} reported a message (policy 2.1.3), "
            f"by {_HOW.get(report.how, report.how)}.",
            "",
            "Their note:",
            *(f"  {ln}" for ln in (report.note or "(none)").splitlines()[:30]),
            "",
            f"From:    {report.from_header}",
            f"Subject: {report.subject}",
            f"Copy:    {copy}",
            f"SHA-256: {report.sha256}",
            "",
            "Findings:" if shown else "Findings: none from the checks and the classifier",
            *(f"  - {f['code']} ({f['score']}): {f['detail']}" for f in shown[:20]),
        ]
        if first is not None:
            lines += ["", f"Already reported by {first.reporter} on "
                          f"{first.created_at:%d %b %Y %H:%M} UTC (report {first.id})."]
        lines += ["", f"Review it at {self.web_url}/reports/{report.id}",
                  "The message itself is not attached: open it in the review app."]
        tag = "Reported again" if first is not None else "Reported"
        return self._notice(self.reviewers, f"[aupgate] {tag} by {report.reporter}: "
                                            f"{report.subject[:100]}", "\n".join(lines) + "\n",
                            report)

    def _acknowledgement(self, filed: list[tuple[Report, Report | None]]) -> EmailMessage:
        reports = [r for r, _ in filed]
        again = "It had already been reported; your note has been added to it.\n\n"
        if len(filed) == 1:
            report, first = filed[0]
            what = f"Your report of the message \"{report.subject}\" has"
            listed = (again if first is not None else "") + f"Reference: {report.id}\n"
            subject = report.subject[:100]
        else:
            what = f"Your report of {len(filed)} messages has"
            listed = f"All {len(filed)} were recorded:\n" + "".join(
                f"  - \"{r.subject[:100]}\" (reference {r.id})"
                + (", already reported: your note has been added" if first else "") + "\n"
                for r, first in filed) + "\n"
            subject = f"{len(filed)} messages"
        body = (
            f"Thank you. {what} reached the headteacher and the designated safeguarding "
            f"lead (policy 2.1.3).\n\n"
            "You do not need to do anything else, and please do not forward the "
            + ("message" if len(filed) == 1 else "messages") + " to anyone else.\n\n"
            f"{listed}"
            f"You can follow {'it' if len(filed) == 1 else 'them'} at "
            f"{self.web_url}/reports/mine\n")
        return self._notice([reports[0].reporter], f"[aupgate] Report received: {subject}",
                            body, *reports)

    async def close(self) -> None:
        if self._notices:
            await asyncio.wait(list(self._notices), timeout=10)


_HOW = {"attachment": "forwarding it as an attachment", "arf": "a report button (ARF)",
        "inline": "forwarding it", "upload": "uploading it", "plain": "mail"}


def _printable(text: str, limit: int = 80) -> str:
    """A name from a mail, fit for an SMTP reply: one line of printable ASCII."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:limit]


def _then(link: Link | None) -> list[dict]:
    """The connection checks' findings from when the gateway received the message."""
    if link is None:
        return []
    return [{**f, "detail": f"when received: {f.get('detail', '')}"}
            for f in link.findings_then
            if str(f.get("code", "")).split(".")[0] in CONNECTION_CHECKS]


class ReportWorker:
    """Completes the reports that staff uploaded in the web app."""

    def __init__(self, intake: ReportIntake, interval: float = 2.0) -> None:
        self.intake = intake
        self._job = PeriodicJob("report-uploads", self.run_once, interval)

    def start(self) -> None:
        self._job.start()

    async def run_once(self) -> int:
        async with self.intake.store.session() as session:
            rows = await pending(session)
        for row in rows:
            try:
                await self.intake.receive(row.forwarded_raw,
                                          extract_upload(row.forwarded_raw, row.note),
                                          row.reporter, report_id=row.id)
            except UnreadableMessage:
                # the web app checks a .msg before taking it; one it took and we cannot read
                log.warning("report %s: the uploaded .msg cannot be read", row.id)
                async with self.intake.store.transaction() as session:
                    (await session.get(Report, row.id)).status = "unreadable"
            except Exception:  # noqa: BLE001 - a broken upload must not stop the others
                log.exception("report %s: could not check the upload", row.id)
                async with self.intake.store.transaction() as session:
                    (await session.get(Report, row.id)).status = "unreadable"
        return len(rows)

    async def close(self) -> None:
        await self._job.stop()
