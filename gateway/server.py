"""The SMTP face of the gateway: aiosmtpd, with the limits a hostile peer meets.

Per RCPT it decides relaying (no open relay) and the pupil allowlist; after DATA it
hands the bytes to `gateway.relay`. Connections are bounded in total and per client
address, messages in flight are bounded (so is the memory they take), and bare CR or
LF in DATA, the SMTP smuggling vector, is refused or normalised.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import ssl
from collections import Counter

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from gateway.allowlist import Allowlist
from gateway.config import ServerConfig
from gateway.directory import Directory
from gateway.envelope import Direction, Envelope, normalise_address
from gateway.relay import Relay
from gateway.reports.intake import ReportIntake
from gateway.tracing import TraceWriter

log = logging.getLogger(__name__)

BARE_LINE_ENDING = re.compile(rb"(?<!\r)\n|\r(?!\n)")

# aiosmtpd's own wording for the limits it enforces, said with enhanced status codes.
REPLY_REWRITES = {
    b"552 Error: Too much mail data": None,  # filled in with the limit per server
    b"500 Line too long (see RFC5321 4.5.3.1.6)":
        b"500 5.5.2 Line too long (RFC 5321 allows 998 characters)",
    b"500 Command line too long": b"500 5.5.2 Command line too long",
}


class ConnectionLimits:
    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.by_client: Counter[str] = Counter()
        self.sessions: set[GatewaySMTP] = set()      # admitted and not yet gone

    def admit(self, ip: str) -> str | None:
        if sum(self.by_client.values()) >= self.total:
            return "421 4.7.0 Too many connections; try again later"
        if self.by_client[ip] >= self.per_client:
            return "421 4.7.0 Too many connections from your address; try again later"
        self.by_client[ip] += 1
        return None

    def release(self, ip: str) -> None:
        self.by_client[ip] -= 1
        if self.by_client[ip] <= 0:
            del self.by_client[ip]


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with connection limits, a DATA timeout and RFC 3463 codes."""

    def __init__(self, handler, *, limits: ConnectionLimits, config: ServerConfig, **kw):
        super().__init__(handler, **kw)
        self._limits = limits
        self._config = config
        self._admitted_ip: str | None = None
        self.line_length_limit = config.max_line_length + 3  # + CRLF, + leading dot
        self._too_big = (f"552 5.3.4 Message too big for this gateway (limit "
                         f"{config.max_message_bytes} bytes)").encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._admitted_ip is None and self.transport is None:
            ip = (transport.get_extra_info("peername") or ("?",))[0]
            refusal = self._limits.admit(ip)
            if refusal is not None:
                transport.write(refusal.encode() + b"\r\n")
                transport.close()
                self._refused = True
                return
            self._admitted_ip = ip
            self._limits.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if getattr(self, "_refused", False):
            return
        if self._admitted_ip is not None:
            self._limits.release(self._admitted_ip)
            self._limits.sessions.discard(self)
            self._admitted_ip = None
        super().connection_lost(error)

    def shut_down(self) -> None:
        """The gateway is stopping: say so (RFC 5321 3.8) and close. Its client will send
        what it had again later; nothing it sent was acknowledged unless it was answered."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"421 4.3.2 Service shutting down; try again later\r\n")
            self.transport.close()

    def eof_received(self):
        if getattr(self, "_refused", False):
            return False
        return super().eof_received()

    async def smtp_DATA(self, arg: str) -> None:
        self._reset_timeout(self._config.data_timeout)
        await super().smtp_DATA(arg)

    async def push(self, status) -> None:
        raw = status.encode("ascii", "replace") if isinstance(status, str) else status
        if raw.startswith(b"552 Error: Too much mail data") or raw.startswith(
                b"552 Error: message size exceeds"):
            raw = self._too_big
        else:
            raw = REPLY_REWRITES.get(raw) or raw
        await super().push(raw)


class Handler:
    """aiosmtpd's handler hooks: MAIL, RCPT and DATA decisions."""

    def __init__(self, *, config: ServerConfig, trusted_networks: list[str],
                 directory: Directory, allowlist: Allowlist, relay: Relay,
                 traces: TraceWriter, reports: ReportIntake | None = None) -> None:
        self.config = config
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in trusted_networks]
        self.directory = directory
        self.allowlist = allowlist
        self.relay = relay
        self.traces = traces
        self.reports = reports        # the staff report address, when configured
        self.in_flight = asyncio.Semaphore(config.max_messages_in_flight)
        self._checking = 0                  # messages between DATA and their reply
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, grace: float) -> None:
        """Wait, up to `grace` seconds, until no message is being checked or delivered:
        the gateway is stopping, and a message cut off now would be checked and
        delivered again when its sender retries."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)

    def direction_of(self, ip: str) -> Direction:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return Direction.INBOUND
        return Direction.OUTBOUND if any(addr in n for n in self.trusted) else Direction.INBOUND

    async def handle_MAIL(self, server, session: Session, envelope: SmtpEnvelope,
                          address: str, mail_options: list[str]) -> str:
        await self.directory.ensure_fresh()
        envelope.mail_from = normalise_address(address)
        envelope.mail_options.extend(mail_options)
        envelope.aupgate_findings = []  # findings decided at RCPT, carried to DATA
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session: Session, envelope: SmtpEnvelope,
                          address: str, rcpt_options: list[str]) -> str:
        rcpt = normalise_address(address)
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            return f"452 4.5.3 Too many recipients (at most {self.config.max_recipients})"
        ip = _peer_ip(session)
        direction = self.direction_of(ip)
        if self.reports is not None and self.reports.is_report_address(rcpt):
            refusal = self.reports.rcpt_refusal(direction, envelope.mail_from or "")
            if refusal is not None:
                return self._refuse(session, envelope, rcpt, refusal)
            envelope.rcpt_tos.append(rcpt)
            return "250 2.1.5 Ok: report address"
        if direction is Direction.INBOUND and not self.directory.is_local(rcpt):
            return self._refuse(session, envelope, rcpt,
                                f"554 5.7.1 <{rcpt}>: relay access denied")
        sender = self.directory.party(envelope.mail_from or "")
        if direction is Direction.INBOUND and self.directory.is_local(envelope.mail_from or ""):
            # An outside client using our domain in MAIL FROM is not one of ours;
            # the auth check says whether it is forged. The allowlist treats it as outside.
            sender = _as_external(sender)
        answer = await self.allowlist.check(sender, self.directory.party(rcpt))
        if not answer.accepted:
            return self._refuse(session, envelope, rcpt, answer.reply)
        if answer.finding is not None:
            envelope.aupgate_findings.append(answer.finding)
        envelope.rcpt_tos.append(rcpt)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    def _refuse(self, session: Session, envelope: SmtpEnvelope, rcpt: str, reply: str) -> str:
        self.traces.add(stage="rcpt", direction=self.direction_of(_peer_ip(session)).value,
                        client_ip=_peer_ip(session), helo=(session.host_name or "")[:255],
                        mail_from=envelope.mail_from or "", rcpt_tos=[rcpt],
                        verdict="refused", smtp_reply=reply)
        return reply

    async def handle_DATA(self, server, session: Session, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or b""
        if BARE_LINE_ENDING.search(raw):
            if self.config.bare_line_endings == "reject":
                self.traces.add(stage="data", client_ip=_peer_ip(session),
                                direction=self.direction_of(_peer_ip(session)).value,
                                mail_from=envelope.mail_from or "",
                                rcpt_tos=list(envelope.rcpt_tos), size=len(raw),
                                verdict="refused",
                                smtp_reply="550 5.5.2 bare LF or CR in message")
                return ("550 5.5.2 Message refused: it contains a bare LF or CR; lines must "
                        "end with CRLF (RFC 5321 2.3.8)")
            raw = normalise_line_endings(raw)
        ip = _peer_ip(session)
        directory = self.directory
        env = Envelope(
            mail_from=envelope.mail_from or "",
            sender=directory.party(envelope.mail_from or ""),
            recipients=[directory.party(r) for r in envelope.rcpt_tos],
            client_ip=ip, helo=session.host_name or "", direction=self.direction_of(ip))
        self._checking += 1
        self._idle.clear()
        try:
            async with self.in_flight:
                if self.reports is not None and self.reports.addressed(env):
                    return await self.reports.take(raw, env, self.relay,
                                                   envelope.aupgate_findings)
                return await self.relay.process(raw, env, envelope.aupgate_findings)
        except Exception:  # noqa: BLE001 - never an exception to the client, never a pass
            log.exception("processing failed for %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure while checking this message; try again later"
        finally:
            self._checking -= 1
            if not self._checking:
                self._idle.set()


def normalise_line_endings(raw: bytes) -> bytes:
    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)


def _peer_ip(session: Session) -> str:
    peer = session.peer
    return peer[0] if isinstance(peer, tuple) else str(peer or "")


def _as_external(party):
    from gateway.envelope import Audience, Party

    return Party(party.address, Audience.EXTERNAL, party.name, ())


def tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    if not (config.tls_cert_file and config.tls_key_file):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
