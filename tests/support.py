"""Helpers the tests share: processes for the gateway and the downstream, config files."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
import tomllib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUPGATE_SHARED", ROOT.parent / "shared")).resolve()
PG_ADMIN = os.environ.get("AUPGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

PUPIL = "amy.lee@stchristophers.example"           # year6; no standing approvals
PUPIL_WITH_GRANDAD = "ben.cole@stchristophers.example"   # approved: grandad.cole@example.net
STAFF = "j.harris@stchristophers.example"
TRUSTED_IP = "127.0.0.2"                            # plays the academy mail server

# A clean school letter of 60-odd words, to bury a sentence in (the classifier reads a
# text this long by its sentences too)
CLEAN_LETTER = (
    "Dear parents, the school trip to the museum is on Friday. Please bring a packed lunch "
    "and a coat. The coach leaves at nine and returns at four. Pupils should wear uniform. "
    "Thank you for your support with the reading challenge this term. The library will be "
    "open after school on Tuesdays and Thursdays for anyone who wants to borrow books. "
    "Homework club runs in room 12 on Wednesdays.")


def staged_mail(limit: int = 2000) -> list[str]:
    """Up to `limit` of the staged SpamAssassin messages, whole (headers and all) and read
    as Latin-1, or none where ../shared is absent: real text for the tests that hold a fast
    way of doing a thing to the plain way."""
    try:
        from classifiers.datasets import ham_dir

        return [path.read_bytes().decode("latin-1")
                for path in sorted(ham_dir().glob("*/*"))[:limit]]
    except OSError:
        return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            # A whole SMTP session, so that the server has closed its side (and counted
            # the connection as gone) before a test opens its own.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.recv(512)
                s.sendall(b"QUIT\r\n")
                while s.recv(512):
                    pass
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


def aupgate_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


def run_aupgate(*args: str, config: Path | None = None, cwd: Path | None = None,
                input: bytes | None = None) -> subprocess.CompletedProcess:
    cmd = aupgate_cmd(*(["-c", str(config)] if config else []), *args)
    return subprocess.run(cmd, cwd=cwd or ROOT, input=input, capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


# Where a test names no DNS server: a loopback port where nothing answers, so that a
# lookup fails here rather than reach the machine's own resolver (and the network).
NO_DNS = "127.0.0.1:9"


def write_config(path: Path, overrides: dict) -> Path:
    """The shipped config/gateway.toml with dotted-key overrides, as a new file."""
    data = tomllib.loads((ROOT / "config" / "gateway.toml").read_text())
    data.setdefault("checks", {}).setdefault("auth", {})["nameservers"] = [NO_DNS]
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    data.setdefault("policy", {})["file"] = str(ROOT / "config" / "policy.toml")
    path.write_text(to_toml(data))
    return path


def to_toml(data: dict, prefix: str = "") -> str:
    scalars, tables, arrays = [], [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {toml_value(value)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        out += f"\n[{name}]\n" + to_toml(value, name)
    for key, items in arrays:
        name = f"{prefix}.{key}" if prefix else key
        for item in items:
            out += f"\n[[{name}]]\n" + to_toml(item, name)
    return out


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def kill_process(process: subprocess.Popen | None) -> None:
    """SIGKILL: no clean-up of any kind, as in a crash or an OOM kill."""
    if process and process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)


def stop_process(process: subprocess.Popen | None, grace: float = 10.0) -> bool:
    """SIGTERM, and SIGKILL if the process has not gone after `grace` seconds. False if it
    had to be killed."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            kill_process(process)
            return False
    return True


class ManagedProcess:
    def __init__(self, cmd: list[str], port: int, cwd: Path, log: Path) -> None:
        self.cmd, self.port, self.cwd, self.log_path = cmd, port, cwd, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.cmd, cwd=self.cwd, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            with contextlib.suppress(AssertionError):     # the start failing is the news
                self.stop()
            raise RuntimeError(f"{self.cmd} did not start:\n{self.log()}") from None

    def kill(self) -> None:
        kill_process(self.process)

    def stop(self) -> None:
        """Stop it as an operator does (SIGTERM). Every stop in the suite checks that it
        ends by itself: a gateway that hangs on SIGTERM fails the test that started it."""
        stopped = stop_process(self.process)
        if getattr(self, "_log", None):
            self._log.close()
        if not stopped:
            raise AssertionError(f"{self.cmd} was still running 10 s after SIGTERM and was "
                                 f"killed; its log ends:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class SinkProcess(ManagedProcess):
    """`aupgate sink`: a real downstream SMTP server in its own process."""

    def __init__(self, folder: Path, fail: int | None = None, port: int | None = None):
        self.folder = folder
        port = port or free_port()
        cmd = aupgate_cmd("sink", "--listen", f"127.0.0.1:{port}", "--maildir", str(folder))
        if fail:
            cmd += ["--fail", str(fail)]
        super().__init__(cmd, port, folder.parent, folder.parent / f"sink-{port}.log")

    def messages(self) -> list[bytes]:
        new = self.folder / "new"
        if not new.exists():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir(), key=lambda p: p.stat().st_mtime)]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"downstream has {len(self.messages())} messages, wanted {count}")


class GatewayProcess(ManagedProcess):
    """`aupgate serve` with a test config, in its own process (so it can be SIGKILLed)."""

    def __init__(self, config: Path, port: int, cwd: Path) -> None:
        self.config = config
        super().__init__(aupgate_cmd("-c", str(config), "serve"), port, cwd,
                         cwd / f"gateway-{port}.log")

    def smtp(self, source_ip: str = "127.0.0.1") -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, source_address=(source_ip, 0), timeout=30)


def make_message(sender: str, rcpts: list[str], subject: str = "Hello",
                 body: str = "Just a note about tomorrow's trip.\n", **headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(rcpts)
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="test.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


async def import_directory(store_url: str, csv_path: Path) -> None:
    from quarantine.store import open_store
    from quarantine.store.directory import import_people, read_csv

    store = await open_store(store_url)
    try:
        async with store.transaction() as session:
            await import_people(session, read_csv(csv_path), actor="tests")
    finally:
        await store.close()


async def create_pg_database(name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def swaks_available() -> bool:
    return shutil.which("swaks") is not None


def in_store(store_url: str, work):
    """Run `await work(session)` against the store and return its result."""
    import asyncio

    from quarantine.store import Store

    async def run():
        store = Store(store_url)
        try:
            async with store.transaction() as session:
                return await work(session)
        finally:
            await store.close()

    return asyncio.run(run())


def held_messages(store_url: str) -> list:
    from sqlalchemy import select

    from quarantine.store.models import HeldMessage

    async def work(session):
        return list((await session.scalars(select(HeldMessage).order_by(HeldMessage.held_at)))
                    .all())
    return in_store(store_url, work)


def traces(store_url: str) -> list:
    from sqlalchemy import select

    from quarantine.store.models import Trace

    async def work(session):
        return list((await session.scalars(select(Trace).order_by(Trace.received_at))).all())
    return in_store(store_url, work)


def audit_actions(store_url: str) -> list[str]:
    from sqlalchemy import select

    from quarantine.store.models import AuditEntry

    async def work(session):
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
                    .all())
    return in_store(store_url, work)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
