"""A small SMTP server that accepts mail and keeps it: the demo's "academy mail server"
and the downstream that tests and the benchmark deliver to.

Each message is written to `DIR/new/` as `<n>.eml` with an envelope line prepended
(`X-Sink-Envelope: from -> to, to`), or only counted with `--discard`. `--fail CODE`
answers every message with that code, to play a broken downstream.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

from aiosmtpd.smtp import SMTP


class SinkHandler:
    def __init__(self, folder: Path | None, fail: int | None = None, quiet: bool = False):
        self.folder = folder
        self.fail = fail
        self.quiet = quiet
        self.count = 0
        self._n = itertools.count(1)
        if folder:
            (folder / "new").mkdir(parents=True, exist_ok=True)
            (folder / "tmp").mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.fail:
            return f"{self.fail} {'4.3.0' if self.fail < 500 else '5.0.0'} sink told to refuse"
        self.count += 1
        if self.folder:
            name = f"{os.getpid()}-{next(self._n)}.eml"
            line = f"X-Sink-Envelope: {envelope.mail_from} -> {', '.join(envelope.rcpt_tos)}\r\n"
            tmp = self.folder / "tmp" / name
            tmp.write_bytes(line.encode() + envelope.original_content)
            os.replace(tmp, self.folder / "new" / name)
        if not self.quiet:
            subject = next((ln for ln in envelope.original_content.split(b"\r\n")
                            if ln.lower().startswith(b"subject:")), b"Subject: -")
            print(f"downstream got mail from {envelope.mail_from} to "
                  f"{', '.join(envelope.rcpt_tos)}: {subject.decode(errors='replace')[9:80]}",
                  flush=True)
        return "250 2.0.0 Ok: kept"


async def serve_sink(host: str, port: int, folder: Path | None, fail: int | None = None,
                     quiet: bool = False) -> asyncio.base_events.Server:
    handler = SinkHandler(folder, fail, quiet)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=None, enable_SMTPUTF8=True, ident="aupgate-sink"),
        host, port)
