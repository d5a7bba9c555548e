"""Handing mail on: to the academy mail server (inbound) or the outside (outbound).

`deliver` returns only when the next server accepted every recipient, or raises
`DeliveryError` saying whether the failure is temporary (the client gets 451 and
retries) or permanent (its 5xx is passed back). Nothing is queued here: the SMTP
client waiting for our answer is the queue.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass

import aiosmtplib

from gateway.config import RelayConfig, parse_host_port
from gateway.envelope import domain_of

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, code: int, text: str, *, permanent: bool) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text
        self.permanent = permanent

    def smtp_reply(self) -> str:
        if self.permanent:
            return f"{self.code} 5.0.0 Refused downstream: {self.text}"[:500]
        return f"451 4.4.1 Downstream unavailable, try again later: {self.text}"[:500]


@dataclass(frozen=True)
class Route:
    host: str
    port: int
    use_mx: bool = False   # host is a domain whose MX is looked up at send time


class Delivery:
    def __init__(self, relay: RelayConfig, local_hostname: str, is_local) -> None:
        self.relay = relay
        self.local_hostname = local_hostname
        self.is_local = is_local
        self.timeout = relay.delivery_timeout
        self.pool = ConnectionPool(local_hostname, relay.delivery_timeout)

    def route_for(self, rcpt: str) -> Route:
        if self.is_local(rcpt):
            return Route(*parse_host_port(self.relay.downstream))
        if self.relay.smarthost:
            return Route(*parse_host_port(self.relay.smarthost))
        return Route(domain_of(rcpt), 25, use_mx=True)

    def group_by_route(self, rcpts: list[str]) -> dict[Route, list[str]]:
        groups: dict[Route, list[str]] = {}
        for rcpt in rcpts:
            groups.setdefault(self.route_for(rcpt), []).append(rcpt)
        return groups

    async def deliver(self, mail_from: str, rcpts: list[str], data: bytes) -> None:
        for route, group in self.group_by_route(rcpts).items():
            await self._send(route, mail_from, group, data)

    async def _send(self, route: Route, mail_from: str, rcpts: list[str], data: bytes) -> None:
        hosts = await mx_hosts(route.host) if route.use_mx else [(route.host, route.port)]
        last: DeliveryError | None = None
        for host, port in hosts:
            try:
                await self._send_to(host, port, mail_from, rcpts, data)
                return
            except DeliveryError as e:
                if e.permanent:
                    raise
                last = e
        raise last or DeliveryError(451, f"no mail server for {route.host}", permanent=False)

    async def _send_to(self, host: str, port: int, mail_from: str, rcpts: list[str],
                       data: bytes) -> None:
        try:
            smtp, reused = await self.pool.checkout(host, port)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            raise DeliveryError(451, f"{host}:{port}: {type(e).__name__}: {e}",
                                permanent=False) from None
        try:
            refused, _ = await smtp.sendmail(mail_from, rcpts, data)
        except aiosmtplib.SMTPServerDisconnected:
            smtp.close()
            if reused:  # the server closed an idle connection: try once on a new one
                return await self._send_fresh(host, port, mail_from, rcpts, data)
            raise DeliveryError(451, f"{host}:{port}: disconnected", permanent=False) from None
        except aiosmtplib.SMTPRecipientsRefused as e:
            await self.pool.checkin(host, port, smtp, reset=True)
            raise _from_responses([(r.code, r.message) for r in e.recipients]) from None
        except aiosmtplib.SMTPResponseException as e:
            smtp.close()
            raise DeliveryError(e.code, e.message, permanent=500 <= e.code < 600) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            smtp.close()
            raise DeliveryError(451, f"{host}:{port}: {type(e).__name__}: {e}",
                                permanent=False) from None
        await self.pool.checkin(host, port, smtp)
        if refused:
            # Some recipients were refused after others were accepted. A temporary
            # refusal makes the client resend to all (a duplicate, never a loss).
            raise _from_responses([(r.code, r.message) for r in refused.values()])

    async def _send_fresh(self, host, port, mail_from, rcpts, data) -> None:
        self.pool.drop(host, port)
        return await self._send_to(host, port, mail_from, rcpts, data)

    async def close(self) -> None:
        await self.pool.close()


class ConnectionPool:
    """Idle SMTP connections to each next hop, reused for the next message.

    A new connection costs a TCP and SMTP handshake on both sides: about as much as the
    message itself for small mail. A connection idle longer than `max_idle` is closed
    rather than reused, well inside the usual 300 s server timeout.
    """

    def __init__(self, local_hostname: str, timeout: float, max_idle: float = 20.0,
                 per_host: int = 16) -> None:
        self.local_hostname = local_hostname
        self.timeout = timeout
        self.max_idle = max_idle
        self.per_host = per_host
        self.idle: dict[tuple[str, int], deque] = defaultdict(deque)

    async def checkout(self, host: str, port: int) -> tuple[aiosmtplib.SMTP, bool]:
        idle = self.idle[(host, port)]
        while idle:
            smtp, since = idle.pop()
            if smtp.is_connected and time.monotonic() - since < self.max_idle:
                return smtp, True
            smtp.close()
        smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=self.timeout,
                               local_hostname=self.local_hostname, start_tls=None,
                               validate_certs=False)
        await smtp.connect()
        return smtp, False

    async def checkin(self, host: str, port: int, smtp: aiosmtplib.SMTP,
                      reset: bool = False) -> None:
        idle = self.idle[(host, port)]
        if not smtp.is_connected or len(idle) >= self.per_host:
            smtp.close()
            return
        if reset:
            try:
                await smtp.rset()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
                return
        idle.append((smtp, time.monotonic()))

    def drop(self, host: str, port: int) -> None:
        for smtp, _ in self.idle.pop((host, port), ()):
            smtp.close()

    async def close(self) -> None:
        for key in list(self.idle):
            self.drop(*key)


def _from_responses(responses: list[tuple[int, str]]) -> DeliveryError:
    temporary = [r for r in responses if r[0] < 500]
    code, text = (temporary or responses)[0]
    return DeliveryError(code, text, permanent=not temporary)


async def mx_hosts(domain: str) -> list[tuple[str, int]]:
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    try:
        answer = await dns.asyncresolver.resolve(domain, "MX", lifetime=10)
        records = sorted(answer, key=lambda r: r.preference)
        hosts = [str(r.exchange).rstrip(".") for r in records if str(r.exchange) != "."]
        if not hosts and records:
            raise DeliveryError(556, f"{domain} accepts no mail (null MX)", permanent=True)
        return [(h, 25) for h in hosts] or [(domain, 25)]
    except dns.resolver.NXDOMAIN:
        raise DeliveryError(550, f"{domain} does not exist", permanent=True) from None
    except dns.resolver.NoAnswer:
        return [(domain, 25)]
    except dns.exception.DNSException as e:
        raise DeliveryError(451, f"MX lookup for {domain} failed: {e}", permanent=False) from None
