"""A real clamd for tests and benchmarks, with a tiny locally built signature database.

ClamAV's signature downloads are not reachable here, so the database is built with
`sigtool` from the EICAR test string (its MD5 as a `.hdb` hash signature and its body
as a `.ndb` hex signature) and `clam.exe` from Debian's clamav-testfiles. clamd loads
it in well under a second. Local signatures are reported with an `.UNOFFICIAL`
suffix, so callers assert on FOUND, never on a name.

    with Clamd(tmp_path) as clamd:
        clamd.address      # "unix:/tmp/.../clamd.sock", for the check's settings
        clamd.kill()       # SIGKILL, to test a scanner dying mid-run

Needs: Debian packages clamav-daemon (clamd, sigtool) and clamav-testfiles.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support import kill_process, stop_process

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
SIGTOOL = shutil.which("sigtool") or "/usr/bin/sigtool"
TESTFILES = Path("/usr/share/clamav-testfiles")

# The EICAR anti-virus test file (68 bytes), assembled so that this source file
# itself is not the test file.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def available() -> bool:
    return Path(CLAMD).exists() and Path(SIGTOOL).exists()


def build_database(db_dir: Path) -> Path:
    """Write aupgate.hdb / aupgate.ndb into db_dir with sigtool; returns db_dir."""
    db_dir.mkdir(parents=True, exist_ok=True)
    work = db_dir / "src"
    work.mkdir(exist_ok=True)
    samples = {"Aupgate.Test.EICAR": EICAR}
    clam_exe = TESTFILES / "clam.exe"
    if clam_exe.exists():
        samples["Aupgate.Test.ClamExe"] = clam_exe.read_bytes()
    hdb = []
    for name, data in samples.items():
        path = work / name
        path.write_bytes(data)
        line = subprocess.run([SIGTOOL, "--md5", str(path)], check=True,
                              capture_output=True, text=True).stdout.strip()
        md5, size, _ = line.split(":", 2)
        hdb.append(f"{md5}:{size}:{name}")
    hexbody = subprocess.run([SIGTOOL, "--hex-dump"], input=EICAR, check=True,
                             capture_output=True).stdout.decode().strip()
    (db_dir / "aupgate.hdb").write_text("\n".join(hdb) + "\n")
    (db_dir / "aupgate.ndb").write_text(f"Aupgate.Test.EICAR.Body:0:*:{hexbody}\n")
    shutil.rmtree(work)
    return db_dir


class Clamd:
    """One clamd process in its own folder, on a unix socket (and TCP if asked)."""

    def __init__(self, folder: Path, *, tcp_port: int | None = None,
                 stream_max_length: str = "25M", max_threads: int = 4) -> None:
        self.folder = Path(folder)
        self.socket = self.folder / "clamd.sock"
        self.tcp_port = tcp_port
        self.stream_max_length = stream_max_length
        self.max_threads = max_threads
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix:{self.socket}"

    @property
    def tcp_address(self) -> str:
        if self.tcp_port is None:
            raise RuntimeError("clamd was started without TCP")
        return f"tcp:127.0.0.1:{self.tcp_port}"

    def write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        db = build_database(self.folder / "db")
        lines = [
            "Foreground yes",
            f"LocalSocket {self.socket}",
            "LocalSocketMode 660",
            f"DatabaseDirectory {db}",
            f"LogFile {self.folder / 'clamd.log'}",
            f"PidFile {self.folder / 'clamd.pid'}",
            f"TemporaryDirectory {self.folder}",
            f"StreamMaxLength {self.stream_max_length}",
            f"MaxThreads {self.max_threads}",
            "SelfCheck 3600",
            "Bytecode no",
        ]
        if self.tcp_port is not None:
            lines += ["TCPAddr 127.0.0.1", f"TCPSocket {self.tcp_port}"]
        if os.geteuid() == 0:
            # Debian's clamd drops to the clamav user unless told otherwise, and that
            # user cannot read a root-owned temporary folder.
            lines.append(f"User {pwd.getpwuid(0).pw_name}")
        conf = self.folder / "clamd.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 60.0) -> Clamd:
        conf = self.write_config()
        self.socket.unlink(missing_ok=True)
        log = open(self.folder / "clamd.out", "wb")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen([CLAMD, "-c", str(conf)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"clamd exited with {self.process.returncode}: "
                                   f"{(self.folder / 'clamd.out').read_text()[-2000:]}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("clamd did not answer PING in time")

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(str(self.socket))
                s.sendall(b"zPING\0")
                return s.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the scanner dies with no goodbye, as it would on an OOM kill."""
        kill_process(self.process)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> Clamd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class KillingProxy:
    """A unix-socket proxy in front of a Clamd that SIGKILLs it once `after_bytes` went
    through: "clamd died in the middle of a scan", deterministically.

        async with KillingProxy(clamd, tmp_path / "proxy.sock") as proxy:
            ... scan via proxy.address ...
        assert proxy.killed.is_set()
    """

    def __init__(self, clamd: Clamd, path: Path, after_bytes: int = 1024 * 1024) -> None:
        self.clamd = clamd
        self.path = Path(path)
        self.after_bytes = after_bytes
        self.killed = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None

    @property
    def address(self) -> str:
        return f"unix:{self.path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.clamd.socket))
        except OSError:
            writer.transport.abort()
            return
        sent = 0

        async def pump_up() -> None:
            nonlocal sent
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()
                sent += len(data)
                if sent > self.after_bytes and not self.killed.is_set():
                    # Synchronously (a SIGKILL and a reap take milliseconds): the event
                    # must be set before the dying connection can wake the client.
                    self.clamd.kill()
                    self.killed.set()

        async def pump_down() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(pump_up(), pump_down())
        except OSError:
            pass
        finally:
            up_writer.transport.abort()
            writer.transport.abort()

    async def __aenter__(self) -> KillingProxy:
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
