"""Acting on a message's decisions, before the client has its answer.

The one rule: the client gets 250 only after every recipient's copy is either
accepted by the next server or held in a committed store transaction. Anything that
stops that gives 451 and the client's own queue keeps the message. A recipient whose
decision is "reject" while others' are not is held instead: one SMTP answer covers
all recipients, and holding loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import formatdate

from gateway.delivery import Delivery, DeliveryError
from gateway.envelope import Envelope
from gateway.findings import Finding
from gateway.headers import edit_headers, has_prefix
from gateway.pipeline import Outcome, Pipeline
from gateway.policy import Action, Decision
from gateway.tracing import TraceWriter
from quarantine.store import Store
from quarantine.store.held import hold, new_id, record_trace

log = logging.getLogger(__name__)

DELIVERED_ACTIONS = (Action.DELIVER, Action.TAG, Action.ESCALATE)
SEVERITY_ORDER = ("mild", "serious", "gross")


class Relay:
    def __init__(self, pipeline: Pipeline, delivery: Delivery, store: Store,
                 traces: TraceWriter, hostname: str, alerts=None,
                 keep_delivered: bool = True) -> None:
        self.pipeline = pipeline
        self.delivery = delivery
        self.store = store
        self.traces = traces
        self.hostname = hostname
        self.alerts = alerts
        self.keep_delivered = keep_delivered
        self._background: set[asyncio.Task] = set()  # referenced until done, or they vanish

    async def process(self, raw: bytes, envelope: Envelope,
                      early: list[Finding] | None = None) -> str:
        trace_id = new_id()
        outcome = await self.pipeline.run(raw, envelope, early)
        decisions = outcome.decisions
        trace = self._trace_fields(trace_id, raw, envelope, outcome)

        strongest = max(d.action for d in decisions)
        if strongest is Action.DEFER and not _any(decisions, Action.QUARANTINE, Action.REJECT):
            return self._finish(trace, "defer",
                                f"451 4.7.1 Cannot check this message now: "
                                f"{_first_reason(decisions, Action.DEFER)}; try again later")
        if all(d.action is Action.REJECT for d in decisions):
            return self._finish(trace, "reject",
                                f"550 5.7.1 {_first_reason(decisions, Action.REJECT)}")

        to_hold = [d for d in decisions if d.action >= Action.DEFER]
        to_deliver = [d for d in decisions if d.action in DELIVERED_ACTIONS]
        escalated = [d for d in to_deliver if d.action is Action.ESCALATE]

        held_ids = []
        if to_hold or escalated:
            try:
                held_ids = await self._hold(raw, outcome, envelope, trace, to_hold, escalated)
            except Exception:  # noqa: BLE001 - an unreachable store must not lose the mail
                log.exception("could not hold message %s", trace_id)
                return self._finish(trace, "defer",
                                    "451 4.3.0 Cannot store this message now; try again later")

        try:
            for action, group in _by_action(to_deliver).items():
                data = self._delivered_bytes(raw, outcome, envelope, trace_id, action)
                await self.delivery.deliver(envelope.mail_from, [d.recipient for d in group],
                                            data)
        except DeliveryError as e:
            reply = e.smtp_reply()
            return self._finish(trace, "defer" if not e.permanent else "refused", reply,
                                traced=bool(held_ids))

        if held_ids and self.alerts is not None:
            wanted = [d for d in decisions if d.alert]
            if wanted:
                task = asyncio.create_task(self.alerts.send(held_ids[0], outcome, envelope,
                                                            wanted))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        verdict = str(max(d.action for d in decisions))
        kept = raw if to_deliver and self.keep_delivered and not held_ids else None
        return self._finish(trace, verdict, f"250 2.0.0 Ok: {trace_id}", traced=bool(held_ids),
                            kept_raw=kept)

    async def _hold(self, raw: bytes, outcome: Outcome, envelope: Envelope, trace: dict,
                    to_hold: list[Decision], escalated: list[Decision]) -> list[str]:
        ids = []
        async with self.store.transaction() as session:
            await record_trace(session, **trace, verdict="held",
                               smtp_reply="250 (held)")
            await session.flush()  # the held rows refer to it
            for kind, group in (("quarantine", to_hold), ("escalation", escalated)):
                if not group:
                    continue
                category, severity = hold_category([c for d in group for c in d.drivers])
                held = await hold(
                    session, raw=raw, sha256=outcome.message.sha256, kind=kind,
                    trace_id=trace["id"], direction=envelope.direction.value,
                    mail_from=envelope.mail_from, rcpt_tos=[d.recipient for d in group],
                    audiences=sorted({d.audience.value for d in group}),
                    message_id=outcome.message.message_id[:998],
                    subject=outcome.message.subject, from_header=outcome.message.header("From"),
                    findings=[f.to_dict() for f in outcome.findings],
                    reasons=[r for d in group for r in d.reasons],
                    category=category, severity=severity)
                ids.append(held.id)
        return ids

    def _delivered_bytes(self, raw: bytes, outcome: Outcome, envelope: Envelope,
                         trace_id: str, action: Action) -> bytes:
        shown = [f for f in outcome.findings if f.score or f.severity]
        summary = ", ".join(f"{f.code}({f.score:g})" for f in shown)[:900] or "none"
        received = (f"from {envelope.helo or 'unknown'} ([{envelope.client_ip}]) by "
                    f"{self.hostname} (aupgate) with ESMTP id {trace_id}; "
                    f"{formatdate(localtime=False)}")
        data = edit_headers(
            raw,
            add=[("Received", received), *outcome.header_edits.add,
                 ("X-Aupgate-Verdict", str(action)), ("X-Aupgate-Findings", summary)],
            remove=[has_prefix("x-aupgate-"), *outcome.header_edits.remove])
        for rewrite in outcome.rewriters:
            data = rewrite(data, envelope)
        return data

    def _trace_fields(self, trace_id: str, raw: bytes, envelope: Envelope,
                      outcome: Outcome) -> dict:
        m = outcome.message
        return dict(
            id=trace_id, received_at=envelope.received_at, stage="data",
            direction=envelope.direction.value, client_ip=envelope.client_ip,
            helo=envelope.helo[:255], mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos,
            size=len(raw), message_id=m.message_id[:998], subject=m.subject[:2000],
            from_header=m.header("From")[:2000], sha256=m.sha256,
            findings=[f.to_dict() for f in outcome.findings],
            decisions={d.recipient: d.to_dict() for d in outcome.decisions},
            duration_ms=outcome.duration_ms)

    def _finish(self, trace: dict, verdict: str, reply: str, *, traced: bool = False,
                kept_raw: bytes | None = None) -> str:
        if not traced:
            self.traces.add(kept_raw, **trace, verdict=verdict, smtp_reply=reply)
        log.info("%s %s -> %s: %s", trace["id"], trace["mail_from"], trace["rcpt_tos"], reply)
        return reply


def hold_category(codes: list[str]) -> tuple[str, str]:
    """The reviewer's "why": the strongest family among the findings that drove the
    decision, and the Appendix I severity among them."""
    families = [
        ("virus", ("attachment.virus",)),
        ("attachment", ("attachment.", "mime.")),
        ("safeguarding", ("safeguarding.",)),
        ("spoofing", ("auth.", "impersonation.")),
        ("allowlist", ("allowlist.",)),
        ("content", ("content.",)),
    ]
    category = next((name for name, prefixes in families
                     if any(c.startswith(prefixes) for c in codes)), "other")
    severities = [c.split(".")[1] for c in codes
                  if c.startswith("content.") and c.count(".") >= 1]
    ranked = [s for s in SEVERITY_ORDER if s in severities]
    return category, (ranked[-1] if ranked else "")


def _any(decisions: list[Decision], *actions: Action) -> bool:
    return any(d.action in actions for d in decisions)


def _first_reason(decisions: list[Decision], action: Action) -> str:
    for d in decisions:
        for reason in d.reasons:
            if reason.startswith(f"{action}: "):
                return reason.split(": ", 1)[1]
    return "refused by the trust's policy"


def _by_action(decisions: list[Decision]) -> dict[Action, list[Decision]]:
    groups: dict[Action, list[Decision]] = {}
    for d in decisions:
        groups.setdefault(d.action, []).append(d)
    return groups

