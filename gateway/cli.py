"""`aupgate`: the command line, the one place that wires everything together."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.config import ConfigError, GatewayConfig, load_config, parse_host_port

# Other parts add their own subcommands: each of these modules has `register(subparsers)`.
PLUGGED_COMMANDS = ("classifiers.cli", "gateway.retraining", "gateway.auth.cli",
                    "quarantine.web.cli")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "mail.log"):  # per-command chatter; our own log says what matters
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"aupgate: {e}", file=sys.stderr)
        return 78  # EX_CONFIG
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aupgate", description=__doc__)
    parser.add_argument("--config", "-c", help="gateway.toml (default: config/gateway.toml)")
    parser.add_argument("--verbose", "-v", action="store_true")
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("serve", help="run the SMTP relay")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run the relay on its defaults with a local demo downstream")
    p.add_argument("--downstream-dir", default="var/demo-downstream")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("sink", help="a test SMTP server that keeps what it receives")
    p.add_argument("--listen", default="127.0.0.1:2526")
    p.add_argument("--maildir", help="folder to keep messages in (default: count only)")
    p.add_argument("--fail", type=int, help="answer every message with this SMTP code")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_sink)

    p = sub.add_parser("check", help="run a message through the checks and policy, no SMTP")
    p.add_argument("message", help=".eml file, or - for standard input")
    p.add_argument("--from", dest="mail_from", required=True)
    p.add_argument("--to", dest="rcpts", action="append", required=True)
    p.add_argument("--client-ip", default="192.0.2.1")
    p.add_argument("--helo", default="client.example")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("db", help="the store's schema")
    dsub = p.add_subparsers(metavar="ACTION", required=True)
    dsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("directory", help="pupils, staff and groups")
    dsub = p.add_subparsers(metavar="ACTION", required=True)
    q = dsub.add_parser("import", help="replace the directory with a CSV file")
    q.add_argument("file")
    q.add_argument("--merge", action="store_true", help="add and update; remove nobody")
    q.set_defaults(func=cmd_directory_import)

    p = sub.add_parser("exception", help="time-limited allowances that staff grant pupils")
    esub = p.add_subparsers(metavar="ACTION", required=True)
    q = esub.add_parser("grant", help="let a pupil or group write to addresses until a date")
    q.add_argument("--pupil", help="the pupil's address")
    q.add_argument("--group", help="a group, e.g. year6")
    q.add_argument("--contact", action="append", required=True,
                   help="address or @domain (repeatable)")
    q.add_argument("--until", required=True, help="expiry, e.g. 2026-12-20 or 2026-12-20T15:30")
    q.add_argument("--reason", required=True)
    q.add_argument("--by", required=True, help="the member of staff granting it")
    q.add_argument("--direction", choices=("send", "receive", "both"), default="both")
    q.set_defaults(func=cmd_exception_grant)
    q = esub.add_parser("list", help="exceptions in force")
    q.add_argument("--all", action="store_true", help="also lapsed ones")
    q.set_defaults(func=cmd_exception_list)

    p = sub.add_parser("audit", help="the hash-chained audit log")
    asub = p.add_subparsers(metavar="ACTION", required=True)
    asub.add_parser("verify", help="check the chain").set_defaults(func=cmd_audit_verify)

    register_web_commands(sub)

    for name in PLUGGED_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not name.startswith(e.name or "?"):
                raise  # the module exists but something it imports is missing
            continue
        module.register(sub)
    return parser


def config_of(args) -> GatewayConfig:
    return load_config(args.config)


async def open_configured_store(args):
    from quarantine.store import open_store

    return await open_store(config_of(args).store.url)


# -- serving ---------------------------------------------------------------------------

def cmd_serve(args) -> int:
    config = config_of(args)
    if config.server.workers > 1:
        from gateway.workers import serve_workers

        return serve_workers(config, lambda worker_config, sock, index: asyncio.run(
            _serve(worker_config, sock=sock, worker=index)))
    return asyncio.run(_serve(config))


async def _serve(config: GatewayConfig, extra_servers=(), sock=None, worker: int = 0) -> int:
    from gateway.app import Gateway
    from quarantine.web.commands import stop_on_signals

    stop = stop_on_signals()     # before the first connection is accepted
    gateway = await Gateway.create(config)
    await gateway.start(sock, housekeeping=worker == 0)
    web = await _start_web(config, gateway.store) if worker == 0 else None
    print(f"aupgate: relay on {config.server.listen_host}:{gateway.port}, delivering to "
          f"{config.relay.downstream}", flush=True)
    await stop.wait()
    if web is not None:
        await web.stop()
    for server in extra_servers:
        server.close()
    await gateway.close()
    return 0


async def _start_web(config: GatewayConfig, store):
    """The review app runs beside the relay when it is installed and enabled."""
    try:
        from quarantine.web.serve import start_web
        from quarantine.web.settings import WebConfigError
    except ModuleNotFoundError:
        return None
    try:
        web = await start_web(config.web, store, retention_days=config.store.retention_days,
                              local_domains=config.relay.local_domains)
    except WebConfigError as e:
        raise ConfigError(str(e)) from None
    if web is not None:   # the staff upload page's limit, from [reports]
        from gateway.reports.settings import reports_settings

        web.server.config.app.state.report_max_upload = \
            reports_settings(config).max_upload_bytes
    return web


def cmd_demo(args) -> int:
    from gateway.localdns import DEMO_ZONES, ZoneServer

    # The demo answers its own DNS (the trust's zone; NXDOMAIN for the rest), so that
    # sender authentication works, and says so, on a machine with no network.
    dns = ZoneServer(DEMO_ZONES).start()
    config = load_config(args.config, overrides={"checks.auth.nameservers": [dns.address]})
    print(f"aupgate: demo DNS on {dns.address} (the trust's zone; other names do not exist)")
    try:
        return asyncio.run(_demo(config, Path(args.downstream_dir)))
    finally:
        dns.stop()


async def _demo(config: GatewayConfig, folder: Path) -> int:
    from gateway.sink import serve_sink
    from quarantine.store import open_store
    from quarantine.store.directory import import_people, load_people, read_csv

    store = await open_store(config.store.url)
    async with store.session() as session:
        empty = not await load_people(session)
    if empty:
        sample = config.resolve("directory.sample.csv")
        async with store.transaction() as session:
            n = await import_people(session, read_csv(sample), actor="aupgate demo")
        print(f"aupgate: imported {n} people from {sample}")
    await store.close()
    host, port = parse_host_port(config.relay.downstream)
    sink = await serve_sink(host, port, folder)
    print(f"aupgate: demo downstream on {host}:{port}, keeping mail in {folder}/new")
    print("aupgate: try\n"
          f"  swaks --server {config.server.listen_host}:{config.server.listen_port} "
          "--from friend@example.org --to j.harris@stchristophers.example\n"
          f"  swaks --server {config.server.listen_host}:{config.server.listen_port} "
          "--from stranger@example.org --to amy.lee@stchristophers.example   (refused)")
    if config.web.get("enabled", True):
        print(f"aupgate: review app on http://{config.web.get('listen', '127.0.0.1:8025')}; "
              "make an account with: aupgate user add NAME --role reviewer")
    return await _serve(config, extra_servers=[sink])


def cmd_sink(args) -> int:
    from gateway.sink import serve_sink
    from quarantine.web.commands import stop_on_signals

    async def run() -> int:
        host, port = parse_host_port(args.listen)
        stop = stop_on_signals()
        server = await serve_sink(host, port, Path(args.maildir) if args.maildir else None,
                                  args.fail, args.quiet)
        print(f"sink listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
        await stop.wait()
        server.close()
        return 0

    return asyncio.run(run())


# -- offline check -----------------------------------------------------------------------

def cmd_check(args) -> int:
    raw = sys.stdin.buffer.read() if args.message == "-" else Path(args.message).read_bytes()
    config = config_of(args)
    result = asyncio.run(_check(config, raw, args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"verdict: {result['verdict']}")
        for rcpt, d in result["decisions"].items():
            print(f"  {rcpt} ({d['audience']}): {d['action']}")
            for reason in d["reasons"]:
                print(f"      because {reason}")
        print("findings:")
        for f in result["findings"]:
            print(f"  {f['code']:<40} {f['severity']:<8} {f['score']:>6}  {f['detail']}")
    return 0


async def _check(config: GatewayConfig, raw: bytes, args) -> dict:
    from gateway.app import Gateway
    from gateway.envelope import Envelope, normalise_address

    gateway = await Gateway.create(config)
    try:
        d = gateway.directory
        env = Envelope(mail_from=normalise_address(args.mail_from),
                       sender=d.party(args.mail_from),
                       recipients=[d.party(r) for r in args.rcpts],
                       client_ip=args.client_ip, helo=args.helo,
                       direction=gateway.handler.direction_of(args.client_ip))
        outcome = await gateway.pipeline.run(raw, env)
    finally:
        await gateway.close()
    return {
        "verdict": str(max(x.action for x in outcome.decisions)),
        "direction": env.direction.value,
        "decisions": {x.recipient: x.to_dict() for x in outcome.decisions},
        "findings": [f.to_dict() for f in outcome.findings],
        "sha256": outcome.message.sha256,
        "duration_ms": round(outcome.duration_ms, 2),
    }


# -- the store --------------------------------------------------------------------------------

def cmd_db_upgrade(args) -> int:
    async def run():
        store = await open_configured_store(args)
        await store.close()
    asyncio.run(run())
    print("aupgate: the store is up to date")
    return 0


def cmd_directory_import(args) -> int:
    from quarantine.store.directory import DirectoryError, import_people, read_csv

    async def run() -> int:
        rows = read_csv(Path(args.file))
        store = await open_configured_store(args)
        try:
            async with store.transaction() as session:
                return await import_people(session, rows, actor="cli",
                                           replace=not args.merge)
        finally:
            await store.close()
    try:
        n = asyncio.run(run())
    except DirectoryError as e:
        print(f"aupgate: {e}", file=sys.stderr)
        return 65
    print(f"aupgate: imported {n} people from {args.file}")
    return 0


def parse_until(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if "T" not in text and " " not in text:
        value = value.replace(hour=23, minute=59, second=59)  # "until 20 Dec" includes the day
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def cmd_exception_grant(args) -> int:
    from quarantine.store.directory import DirectoryError, grant_exception

    if bool(args.pupil) == bool(args.group):
        print("aupgate: name exactly one of --pupil or --group", file=sys.stderr)
        return 64
    subject = args.pupil.lower() if args.pupil else f"group:{args.group.lower()}"

    async def run():
        store = await open_configured_store(args)
        try:
            async with store.transaction() as session:
                return await grant_exception(
                    session, subject=subject, contacts=args.contact,
                    expires_at=parse_until(args.until), granted_by=args.by,
                    reason=args.reason, direction=args.direction, client="cli")
        finally:
            await store.close()
    try:
        granted = asyncio.run(run())
    except (DirectoryError, ValueError) as e:
        print(f"aupgate: {e}", file=sys.stderr)
        return 65
    for a in granted:
        print(f"granted #{a.id}: {a.subject} may {a.direction} mail with {a.contact} until "
              f"{a.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_exception_list(args) -> int:
    from sqlalchemy import select

    from quarantine.store.directory import allowances_in_force, record_lapses
    from quarantine.store.models import Allowance

    async def run():
        store = await open_configured_store(args)
        try:
            async with store.transaction() as session:
                await record_lapses(session)
            async with store.session() as session:
                if args.all:
                    return list((await session.scalars(
                        select(Allowance).where(Allowance.kind == "exception"))).all())
                return [a for a in await allowances_in_force(session) if a.kind == "exception"]
        finally:
            await store.close()
    rows = asyncio.run(run())
    if not rows:
        print("no exceptions in force")
    for a in rows:
        state = "lapsed" if a.lapsed_at else "in force"
        print(f"#{a.id}  {a.subject:<36} {a.direction:<7} {a.contact:<32} until "
              f"{a.expires_at:%Y-%m-%d %H:%M}  {state}  granted by {a.granted_by}: {a.reason}")
    return 0


def cmd_audit_verify(args) -> int:
    from quarantine.store.audit import verify

    async def run():
        store = await open_configured_store(args)
        try:
            async with store.session() as session:
                return await verify(session)
        finally:
            await store.close()
    result = asyncio.run(run())
    if result.ok:
        print(f"audit log intact: {result.entries} entries")
        return 0
    print(f"audit log BROKEN: {result.problem}", file=sys.stderr)
    return 1


# -- the review web app (issue 6): `aupgate web`, `aupgate user …` -----------------------------

def register_web_commands(sub) -> None:
    p = sub.add_parser("web", help="run the review web app alone (no relay)")
    p.set_defaults(func=cmd_web)
    p = sub.add_parser("user", help="accounts of the review web app")
    usub = p.add_subparsers(metavar="ACTION", required=True)
    q = usub.add_parser("add", help="add an account (password from standard input or a prompt)")
    q.add_argument("username")
    q.add_argument("--role", choices=("reviewer", "admin", "staff"), required=True)
    q.add_argument("--email", default="", help="their mail address (staff: whose grants)")
    q.set_defaults(func=cmd_user_add)
    q = usub.add_parser("passwd", help="set an account's password")
    q.add_argument("username")
    q.set_defaults(func=cmd_user_passwd)
    q = usub.add_parser("disable", help="disable an account and end its sessions")
    q.add_argument("username")
    q.set_defaults(func=cmd_user_disable)
    usub.add_parser("list", help="the accounts").set_defaults(func=cmd_user_list)


def _web_settings_checked(config: GatewayConfig) -> None:
    from quarantine.web.settings import WebConfigError, load_settings

    try:
        load_settings(config.web)
    except WebConfigError as e:
        raise ConfigError(str(e)) from None


def cmd_web(args) -> int:
    from quarantine.web.commands import run_web

    config = config_of(args)
    _web_settings_checked(config)
    return asyncio.run(run_web(config.store.url, config.web,
                               retention_days=config.store.retention_days,
                               local_domains=config.relay.local_domains))


def _read_password() -> str:
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def _user_command(work) -> int:
    from quarantine.web.accounts import AccountError

    try:
        out = asyncio.run(work())
    except (AccountError, ValueError) as e:
        print(f"aupgate: {e}", file=sys.stderr)
        return 65
    print("\n".join(out) if isinstance(out, list) else out)
    return 0


def cmd_user_add(args) -> int:
    from quarantine.web.commands import user_add

    url = config_of(args).store.url
    password = _read_password()
    return _user_command(lambda: user_add(url, args.username, args.role, args.email, password))


def cmd_user_passwd(args) -> int:
    from quarantine.web.commands import user_passwd

    url = config_of(args).store.url
    password = _read_password()
    return _user_command(lambda: user_passwd(url, args.username, password))


def cmd_user_disable(args) -> int:
    from quarantine.web.commands import user_disable

    url = config_of(args).store.url
    return _user_command(lambda: user_disable(url, args.username))


def cmd_user_list(args) -> int:
    from quarantine.web.commands import user_list

    url = config_of(args).store.url
    return _user_command(lambda: user_list(url))

# -- end of the review web app's commands ------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main())
