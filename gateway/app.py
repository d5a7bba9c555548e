"""The one place that wires the gateway together from its configuration."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.alerts import Alerts
from gateway.allowlist import Allowlist
from gateway.checks import Services, build_checks
from gateway.config import GatewayConfig
from gateway.delivery import Delivery
from gateway.directory import Directory
from gateway.message import Limits
from gateway.pipeline import Pipeline
from gateway.policy import Policy
from gateway.relay import Relay
from gateway.releases import ReleaseWorker
from gateway.reports.intake import ReportIntake, ReportWorker
from gateway.reports.settings import reports_settings
from gateway.server import ConnectionLimits, GatewaySMTP, Handler, tls_context
from gateway.tracing import TraceWriter
from quarantine.jobs import STOP_GRACE, PeriodicJob
from quarantine.store import Store, open_store
from quarantine.store.directory import record_lapses

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    config: GatewayConfig
    store: Store
    directory: Directory
    pipeline: Pipeline
    delivery: Delivery
    relay: Relay
    traces: TraceWriter
    handler: Handler
    releases: ReleaseWorker
    reports: ReportIntake
    report_uploads: ReportWorker
    server: asyncio.base_events.Server | None = None
    _limits: ConnectionLimits | None = None
    _housekeeping: PeriodicJob | None = None

    @classmethod
    async def create(cls, config: GatewayConfig, *, store: Store | None = None) -> Gateway:
        store = store or await open_store(config.store.url)
        directory = Directory(store, config.relay.local_domains)
        await directory.refresh()
        services = Services(config=config, store=store, directory=directory)
        policy = Policy.load(config.resolve(config.policy.file))
        limits = Limits(**config.parse.model_dump())
        pipeline = Pipeline(build_checks(config, services), policy, limits)
        delivery = Delivery(config.relay, config.server.hostname, directory.is_local)
        traces = TraceWriter(store)
        relay = Relay(pipeline, delivery, store, traces, config.server.hostname,
                      Alerts(config.alerts, delivery),
                      keep_delivered=config.store.keep_delivered_days > 0)
        reports = ReportIntake(reports_settings(config), store=store, pipeline=pipeline,
                               directory=directory, traces=traces, alerts=relay.alerts,
                               reviewers=config.alerts.reviewers,
                               web_url=config.alerts.web_url)
        handler = Handler(config=config.server, trusted_networks=config.relay.trusted_networks,
                          directory=directory,
                          allowlist=Allowlist(store, directory,
                                              config.allowlist.unapproved_sender_to_pupil),
                          relay=relay, traces=traces,
                          reports=reports if reports.settings.address else None)
        return cls(config, store, directory, pipeline, delivery, relay, traces, handler,
                   ReleaseWorker(store, delivery), reports, ReportWorker(reports))

    def smtp_factory(self) -> GatewaySMTP:
        c = self.config.server
        limits = self._limits = ConnectionLimits(c.max_sessions, c.max_sessions_per_client)
        tls = tls_context(c)

        def factory() -> GatewaySMTP:
            return GatewaySMTP(self.handler, limits=limits, config=c,
                               data_size_limit=c.max_message_bytes, hostname=c.hostname,
                               ident="aupgate", timeout=c.command_timeout,
                               tls_context=tls, enable_SMTPUTF8=True)
        return factory

    async def start(self, sock=None, *, housekeeping: bool = True) -> None:
        """Listen (on `sock` when a parent process opened it for several workers)."""
        self.traces.start()
        self.releases.start()
        if housekeeping:   # one node's (or worker's) jobs, not every worker's
            self._housekeeping = PeriodicJob("housekeeping", self._housekeep, 60)
            self._housekeeping.start()
            self.report_uploads.start()
        c = self.config.server
        loop = asyncio.get_running_loop()
        if sock is not None:
            self.server = await loop.create_server(self.smtp_factory(), sock=sock)
        else:
            self.server = await loop.create_server(self.smtp_factory(), c.listen_host,
                                                   c.listen_port)
        log.info("aupgate listening on %s:%s", c.listen_host, self.port)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _housekeep(self) -> None:
        from quarantine.store.held import purge_expired, purge_kept

        async with self.store.transaction() as session:
            await record_lapses(session)
            await purge_expired(session, self.config.store.retention_days)
            await purge_kept(session, self.config.store.keep_delivered_days)
        await self.directory.refresh()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()                 # no new connections
        # a message being checked or delivered gets its answer before anything closes;
        # then every session still open hears 421 (from Python 3.12, wait_closed waits
        # for every connection, and an idle client would hold the stop until it timed out)
        await self.handler.drain(STOP_GRACE)
        for session in list(self._limits.sessions if self._limits else ()):
            session.shut_down()
        if self.server is not None:
            await self.server.wait_closed()
        if self._housekeeping:
            await self._housekeeping.stop()
        await self.releases.close()
        await self.report_uploads.close()
        await self.reports.close()
        await self.traces.close()
        await self.pipeline.close()
        await self.delivery.close()
        await self.store.close()
