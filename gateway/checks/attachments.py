"""Dangerous attachments (issue 4): true types, banned kinds, archives, macros, ClamAV.

For each attachment of the parsed message (nested messages included, as `Message`
walks them) and each member of the zip/7z/rar archives among them:

  attachment.banned.<kind>     executable, script, shortcut, disk_image, chm, jar
  attachment.type_mismatch     the name or Content-Type claims a family the bytes are not
  attachment.double_extension  "invoice.pdf.exe", "photo.jpg        .scr"
  attachment.rtlo              bidi control characters in the filename
  attachment.macro             VBA or XLM macros in an Office document
  attachment.archive.encrypted / .bomb / .too_deep / .unreadable
  attachment.virus             clamd answered FOUND
  attachment.scan_failed       clamd down, too slow, or answering garbage: never a pass
  attachment.unscanned         too large for the scan cap (below clamd's StreamMaxLength)
  attachment.scan_disabled     INFO: no clamd configured (`clamd = ""`), nothing was scanned

Findings about members of one archive are grouped: one finding per code per
attachment, listing the members. libmagic, oletools and the archive walk block, so
they run in a worker thread while clamd scans.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.attachments import archives, filetypes, macros
from gateway.attachments.clamav import ClamdClient, ClamdError, TooLargeToScan, parse_address
from gateway.findings import Finding, Severity
from gateway.message import Message, Part, sniff_description, sniff_type

NAME = "attachments"

Kind = Literal["executable", "script", "shortcut", "disk_image", "chm", "jar"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # "unix:/run/clamav/clamd.ctl" or "tcp:host:3310"; "" = no scanner (an INFO finding
    # `attachment.scan_disabled` says so on every message that had something to scan).
    clamd: str = ""
    scan_mode: Literal["attachment", "message"] = "attachment"
    connect_timeout: float = Field(5.0, gt=0)
    scan_timeout: float = Field(60.0, gt=0)
    # Keep below clamd's StreamMaxLength (Debian's default is 25M).
    max_scan_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_concurrent_scans: int = Field(4, ge=1, le=64)
    chunk_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)

    banned_kinds: list[Kind] = Field(default_factory=lambda: list(filetypes.KINDS))
    banned_extensions: dict[Kind, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in filetypes.DEFAULT_BANNED_EXTENSIONS.items()})
    banned_types: dict[Kind, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in filetypes.DEFAULT_BANNED_TYPES.items()})
    type_mismatch: bool = True
    macros: bool = True

    # Type, name, archive and macro inspection of one message, in a worker thread.
    inspect_timeout: float = Field(30.0, gt=0)

    archives: bool = True
    archive_max_depth: int = Field(4, ge=1, le=20)
    archive_max_members: int = Field(2000, ge=1)
    archive_max_total_bytes: int = Field(128 * 1024 * 1024, ge=1024)    # per message
    archive_max_member_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    archive_max_ratio: float = Field(200.0, gt=1)

    @field_validator("clamd")
    @classmethod
    def _address(cls, value: str) -> str:
        if value:
            parse_address(value)
        return value


def build(settings: Settings, services: Any) -> AttachmentsCheck | None:
    if not settings.enabled:
        return None
    return AttachmentsCheck(settings)


@dataclass
class _Hit:
    part: Part
    where: str                  # part path, or "part path!member path"
    name: str | None
    detail: str
    severity: Severity
    data: dict[str, Any] = field(default_factory=dict)


_SCORES = {
    "attachment.virus": 100.0,
    "attachment.banned": 20.0,
    "attachment.double_extension": 15.0,
    "attachment.rtlo": 15.0,
    "attachment.archive.bomb": 20.0,
    "attachment.archive.too_deep": 8.0,
    "attachment.archive.encrypted": 8.0,
    "attachment.archive.unreadable": 2.0,
    "attachment.macro": 8.0,
    "attachment.type_mismatch": 4.0,
}

_PROBLEM_WORDS = {
    "encrypted": "is an encrypted archive that cannot be scanned",
    "bomb": "is a decompression bomb and was not unpacked",
    "too_deep": "nests archives too deeply to check",
    "unreadable": "is an archive that could not be read",
}

_KIND_WORDS = {
    "executable": "a program", "script": "a script", "shortcut": "a shortcut",
    "disk_image": "a disk image", "chm": "a compiled help file", "jar": "a Java program",
}


class AttachmentsCheck:
    name = NAME

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tables = filetypes.TypeTables(settings.banned_kinds, settings.banned_extensions,
                                           settings.banned_types)
        self.bounds = archives.ArchiveBounds(
            max_depth=settings.archive_max_depth, max_members=settings.archive_max_members,
            max_total_bytes=settings.archive_max_total_bytes,
            max_member_bytes=settings.archive_max_member_bytes,
            max_ratio=settings.archive_max_ratio)
        self.clamd = ClamdClient(
            settings.clamd, connect_timeout=settings.connect_timeout,
            timeout=settings.scan_timeout, chunk_size=settings.chunk_bytes,
            max_stream_bytes=settings.max_scan_bytes,
            max_concurrent=settings.max_concurrent_scans) if settings.clamd else None

    async def close(self) -> None:
        return None

    async def run(self, message: Message, envelope: Any = None) -> list[Finding]:
        # A message past a MIME bound gets `mime.limits_exceeded` from the pipeline
        # (gateway.pipeline.structural_findings); here it is scanned whole instead.
        scanned, inspected = await asyncio.gather(self.scan(message),
                                                  self._inspect_in_thread(message))
        return inspected + scanned

    async def _inspect_in_thread(self, message: Message) -> list[Finding]:
        try:
            async with asyncio.timeout(self.settings.inspect_timeout):
                return await asyncio.to_thread(self.inspect, message.attachments)
        except TimeoutError:
            # The thread cannot be stopped; it finishes within the archive bounds.
            return [Finding("attachment.inspect_failed", Severity.HIGH, 0.0,
                            f"The attachments could not be checked within "
                            f"{self.settings.inspect_timeout:g}s",
                            {"timeout": self.settings.inspect_timeout})]

    # -- ClamAV ---------------------------------------------------------------

    async def scan(self, message: Message) -> list[Finding]:
        if self.settings.scan_mode == "message" or message.limits_exceeded:
            # Past a MIME bound the walk did not reach every attachment; clamd parses
            # MIME itself, so the whole message still gets a verdict for the reviewer.
            targets = [("message", None, message.raw)]
        else:
            seen: set[str] = set()
            targets = []
            for part in message.attachments:
                digest = hashlib.sha256(part.payload).hexdigest()
                if part.payload and digest not in seen:
                    seen.add(digest)
                    targets.append((part.path, part.filename, part.payload))
        if not targets:
            return []
        if self.clamd is None:
            return [Finding("attachment.scan_disabled", Severity.INFO, 0.0,
                            "No virus scanner is configured: attachments were not scanned",
                            {"targets": len(targets)})]
        results = await asyncio.gather(*(self._scan_one(*t) for t in targets))
        return [f for f in results if f is not None]

    async def _scan_one(self, where: str, filename: str | None, data: bytes) -> Finding | None:
        if where == "message":
            label = "the message"
        else:
            label = f"{filename!r} (part {where})" if filename else f"part {where}"
        try:
            result = await self.clamd.instream(data)  # type: ignore[union-attr]
        except TooLargeToScan as exc:
            return Finding("attachment.unscanned", Severity.MEDIUM, 5.0,
                           f"{label} is too large to scan for viruses: {exc}",
                           {"part": where, "filename": filename, "size": len(data)})
        except ClamdError as exc:
            return Finding("attachment.scan_failed", Severity.HIGH, 0.0,
                           f"The virus scan of {label} failed: {exc}",
                           {"part": where, "filename": filename, "error": str(exc)})
        if not result.infected:
            return None
        return Finding("attachment.virus", Severity.CRITICAL, _SCORES["attachment.virus"],
                       f"{label} contains a virus ({result.signature})",
                       {"part": where, "filename": filename, "signature": result.signature})

    # -- static inspection (runs in a thread) ---------------------------------

    def inspect(self, parts: list[Part]) -> list[Finding]:
        findings: list[Finding] = []
        # One archive budget for the whole message: twenty attachments do not get
        # twenty times the decompression allowance.
        budget = archives.Budget(self.bounds)
        for part in parts:
            if part.declared_type.startswith("message/"):
                continue        # the attached message's own parts are walked separately
            hits: dict[str, list[_Hit]] = defaultdict(list)
            try:
                self._inspect_part(part, hits, budget)
            except Exception as exc:  # noqa: BLE001 - a bug here must not pass the message
                hits["attachment.inspect_failed"].append(_Hit(
                    part, part.path, part.filename,
                    f"{_label(part.filename, part.path)} could not be checked: "
                    f"{type(exc).__name__}: {exc}", Severity.HIGH))
            findings.extend(_group(code, group) for code, group in hits.items())
        return findings

    def _inspect_part(self, part: Part, hits: dict[str, list[_Hit]],
                      budget: archives.Budget) -> None:
        true_type, description = part.true_type, part.true_description
        self._inspect_file(part, part.path, part.filename, _label(part.filename, part.path),
                           part.declared_type, part.payload, true_type, description, hits)
        if not (self.settings.archives and archives.archive_format(part.payload)):
            return

        def judge_member(member: archives.Member) -> None:
            where = f"{part.path}!{member.path}"
            label = f"{member.name!r} inside {member.archive!r}"
            if member.data is None:
                # Unreadable (encrypted): its name is all there is to judge.
                if not member.in_document:
                    self._judge_name(part, where, member.name, label, hits)
                return
            self._inspect_file(part, where, member.name, label, "application/octet-stream",
                               member.data, sniff_type(member.data),
                               sniff_description(member.data), hits,
                               by_name=not member.in_document)

        report = archives.inspect_archive(part.payload, part.filename or f"part {part.path}",
                                          self.bounds, budget, judge_member)
        for problem in report.problems:
            severity = {"bomb": Severity.HIGH, "too_deep": Severity.MEDIUM,
                        "encrypted": Severity.MEDIUM}.get(problem.code, Severity.LOW)
            words = _PROBLEM_WORDS.get(problem.code, "cannot be checked")
            hits[f"attachment.archive.{problem.code}"].append(_Hit(
                part, f"{part.path}!{problem.path}", part.filename,
                f"{_label(part.filename, part.path)} {words}: {problem.detail}", severity))
        for jar in report.jar_like:
            if "jar" in self.tables.kinds:
                hits["attachment.banned.jar"].append(_Hit(
                    part, f"{part.path}!{jar}", part.filename,
                    f"{jar!r} is a Java archive", Severity.HIGH, {"by": "content"}))

    def _judge_name(self, part: Part, where: str, name: str, label: str,
                    hits: dict[str, list[_Hit]]) -> None:
        kind = self.tables.kind_of_extension(filetypes.last_extension(name))
        if kind in self.tables.kinds:
            hits[f"attachment.banned.{kind}"].append(_Hit(
                part, where, name, f"{label} is named as {_KIND_WORDS[kind]}", Severity.HIGH,
                {"by": "extension"}))
        self._judge_tricks(part, where, name, label, hits)

    def _judge_tricks(self, part: Part, where: str, name: str | None, label: str,
                      hits: dict[str, list[_Hit]]) -> None:
        tricks = filetypes.name_tricks(name, self.tables)
        if tricks.bidi:
            hits["attachment.rtlo"].append(_Hit(
                part, where, name,
                f"{label} hides its real extension with bidi controls "
                f"({', '.join(tricks.bidi)})",
                Severity.HIGH, {"controls": tricks.bidi}))
        if tricks.double_extension:
            hits["attachment.double_extension"].append(_Hit(
                part, where, name,
                f"{label} has a double extension ({tricks.double_extension})",
                Severity.HIGH, {"extensions": tricks.double_extension}))

    def _inspect_file(self, part: Part, where: str, name: str | None, label: str,
                      declared: str, data: bytes, true_type: str, description: str,
                      hits: dict[str, list[_Hit]], by_name: bool = True) -> None:
        banned = self.tables.banned_kind(name if by_name else None, true_type, description)
        if banned:
            what = {"type": true_type, "content": banned.evidence,
                    "extension": f"named {banned.evidence}"}[banned.by]
            hits[f"attachment.banned.{banned.kind}"].append(_Hit(
                part, where, name, f"{label} is {_KIND_WORDS[banned.kind]} ({what})",
                Severity.HIGH, {"by": banned.by, "true_type": true_type}))
        if not by_name:
            return
        self._judge_tricks(part, where, name, label, hits)
        if self.settings.type_mismatch:
            mismatch = filetypes.type_mismatch(name, declared, true_type)
            if mismatch:
                dangerous = mismatch.true_family in ("pe", "elf", "macho")
                hits["attachment.type_mismatch"].append(_Hit(
                    part, where, name,
                    f"{label} claims to be {mismatch.claimed_family} "
                    f"({mismatch.claimed}) but is {true_type}",
                    Severity.HIGH if dangerous else Severity.LOW,
                    {"claimed_by": mismatch.claimed_by, "claimed": mismatch.claimed,
                     "true_type": true_type}))
        if self.settings.macros and macros.container_of(data):
            report = macros.scan_macros(data, name)
            if report:
                severity = Severity.HIGH if report.autoexec else Severity.MEDIUM
                hits["attachment.macro"].append(_Hit(
                    part, where, name, f"{label}: {report.summary()}", severity,
                    {"vba": report.vba, "xlm": report.xlm, "modules": report.modules[:20],
                     "autoexec": report.autoexec[:20], "suspicious": report.suspicious[:20],
                     "parse_error": report.parse_error}))


def _label(name: str | None, where: str) -> str:
    return repr(name) if name else f"part {where}"


def _group(code: str, hits: list[_Hit]) -> Finding:
    first = hits[0]
    severity = max(h.severity for h in hits)
    base = "attachment.banned" if code.startswith("attachment.banned.") else code
    score = _SCORES.get(base, 5.0)
    detail = first.detail if len(hits) == 1 else f"{first.detail} (and {len(hits) - 1} more)"
    items = [{"where": h.where, "name": h.name, "detail": h.detail, **h.data} for h in hits[:20]]
    return Finding(code, severity, score, f"Attachment {detail}",
                   {"part": first.part.path, "filename": first.part.filename,
                    "count": len(hits), "items": items})
