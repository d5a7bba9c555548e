"""zip, 7z and rar archives: list their members and read them into memory, within bounds.

Everything happens in memory. A member's name is only ever a label: nothing is written
to a path built from it, and nothing read is run. One `Budget` is shared by the whole
tree under one attachment, so a zip of zips of zips cannot multiply the bounds:

- `max_members` members in all, `max_total_bytes` decompressed in all, and
  `max_member_bytes` for any one member;
- a member that inflates past `max_ratio` times its compressed size, once it is past
  `ratio_floor_bytes`, is a bomb whatever its absolute size;
- archives nest at most `max_depth` deep.

Past a bound the walk stops and says so (`bomb`, `too_deep`); an encrypted member or
archive cannot be read, listed or scanned, and is a problem of its own (`encrypted`);
an archive the libraries cannot read is `unreadable`. Blocking: call from a thread.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

_READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ArchiveBounds:
    max_depth: int = 4
    max_members: int = 2000
    max_total_bytes: int = 128 * 1024 * 1024
    max_member_bytes: int = 64 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024


@dataclass
class Member:
    path: str            # "outer.zip/inner.zip/payload.exe": a label, never a file path
    name: str
    data: bytes | None   # None when it could not be read (encrypted, unreadable)
    declared_size: int
    depth: int           # 1 for a member of the attachment itself
    archive: str = ""    # label of the archive it is in
    # Member of a document that is a zip (OOXML, ODF, EPUB): its parts have fixed
    # roles (an EPUB's .js is the book's), so only its true type is judged.
    in_document: bool = False


@dataclass
class Problem:
    code: str            # "encrypted" | "bomb" | "too_deep" | "unreadable"
    path: str
    detail: str


@dataclass
class ArchiveReport:
    members: list[Member] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    archives: int = 0
    bytes_read: int = 0
    jar_like: list[str] = field(default_factory=list)    # archive paths that are Java jars


class _Bound(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Budget:
    """Members and decompressed bytes left; share one across a message's attachments."""

    def __init__(self, bounds: ArchiveBounds) -> None:
        self.bounds = bounds
        self.members = 0
        self.total = 0

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.bounds.max_members:
            raise _Bound("bomb", f"more than {self.bounds.max_members} members")

    def take(self, n: int) -> None:
        self.total += n
        if self.total > self.bounds.max_total_bytes:
            raise _Bound("bomb", f"more than {self.bounds.max_total_bytes} bytes decompressed")


def archive_format(data: bytes) -> str | None:
    """"zip", "7z" or "rar" by magic bytes; None for anything else."""
    head = data[:8]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    return None


def inspect_archive(data: bytes, name: str, bounds: ArchiveBounds,
                    budget: Budget | None = None,
                    on_member: Callable[[Member], None] | None = None) -> ArchiveReport:
    """Walk an archive (and archives inside it) within `bounds`. Never raises for bad input.

    With `on_member`, each member is handed over as soon as it is read and its bytes
    are dropped afterwards, so memory holds one member (one solid 7z block) at a time;
    without it, `report.members` keep their bytes. A `budget` shared between calls
    bounds the total work for a whole message.
    """
    report = ArchiveReport()
    budget = budget or Budget(bounds)
    start = budget.total
    try:
        _walk(data, name, 1, bounds, budget, report, on_member)
    except _Bound as stop:
        report.problems.append(Problem(stop.code, name, stop.detail))
    report.bytes_read = budget.total - start
    return report


def read_members(data: bytes, wanted: Callable[[str], bool], bounds: ArchiveBounds
                 ) -> list[tuple[str, bytes]] | None:
    """The members of a zip whose names `wanted` accepts (a document's text parts), in
    the zip's order, read within `bounds` (all of them together within its totals); None
    when one is encrypted or unreadable, or a bound is passed. Never raises for bad input."""
    budget = Budget(bounds)
    out = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir() or not wanted(info.filename):
                    continue
                budget.count_member()
                if info.flag_bits & 0x1 or info.file_size > bounds.max_member_bytes:
                    return None
                out.append((info.filename, _read_bounded(zf.open(info), info.filename,
                                                         info.compress_size, bounds, budget)))
    except Exception:  # noqa: BLE001 - _Bound, BadZipFile, bad CRC, ...
        return None
    return out


def _is_document(names: Iterable[str]) -> bool:
    lowered = {n.lower() for n in names}
    return bool(lowered & {"[content_types].xml", "mimetype"})


def _walk(data: bytes, label: str, depth: int, bounds: ArchiveBounds, budget: Budget,
          report: ArchiveReport, on_member: Callable[[Member], None] | None) -> None:
    fmt = archive_format(data)
    if fmt is None:
        return
    if depth > bounds.max_depth:
        report.problems.append(Problem("too_deep", label,
                                       f"archives nested more than {bounds.max_depth} deep"))
        return
    report.archives += 1
    reader = {"zip": _zip_members, "7z": _7z_members, "rar": _rar_members}[fmt]
    names: list[str] = []
    members = reader(data, label, depth, bounds, budget, report)
    while True:
        try:
            member = next(members)
        except StopIteration:
            break
        except _Bound:
            raise
        except Exception as exc:  # noqa: BLE001 - hostile archives break libraries in many ways
            report.problems.append(Problem("unreadable", label,
                                           f"{fmt}: {type(exc).__name__}: {exc}"[:300]))
            break
        names.append(member.name.lower())
        report.members.append(member)
        if on_member is not None:
            on_member(member)
        if member.data is not None and archive_format(member.data):
            _walk(member.data, member.path, depth + 1, bounds, budget, report, on_member)
        if on_member is not None:
            member.data = None
    if "meta-inf/manifest.mf" in names and any(n.endswith(".class") for n in names):
        report.jar_like.append(label)


def _check_ratio(label: str, produced: int, compressed: int, bounds: ArchiveBounds) -> None:
    if produced > bounds.ratio_floor_bytes and produced > bounds.max_ratio * max(compressed, 1):
        raise _Bound("bomb", f"{label} inflates more than {bounds.max_ratio:g} times "
                             f"({compressed} bytes to over {produced})")


def _zip_members(data: bytes, label: str, depth: int, bounds: ArchiveBounds,
                 budget: Budget, report: ArchiveReport) -> Iterator[Member]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        in_doc = _is_document(i.filename for i in infos)
        for info in infos:
            if info.is_dir():
                continue
            budget.count_member()
            path = f"{label}/{info.filename}"
            if info.flag_bits & 0x1:
                report.problems.append(Problem("encrypted", path, "encrypted zip member"))
                yield Member(path, info.filename, None, info.file_size, depth, label, in_doc)
                continue
            if info.file_size > bounds.max_member_bytes:
                raise _Bound("bomb", f"{path} declares {info.file_size} bytes")
            try:
                content = _read_bounded(zf.open(info), path, info.compress_size, bounds, budget)
            except _Bound:
                raise
            except Exception as exc:  # noqa: BLE001 - bad CRC, unsupported method, ...
                report.problems.append(Problem("unreadable", path, f"{type(exc).__name__}: {exc}"[:300]))
                yield Member(path, info.filename, None, info.file_size, depth, label, in_doc)
                continue
            yield Member(path, info.filename, content, info.file_size, depth, label, in_doc)


def _read_bounded(stream: io.BufferedIOBase, path: str, compressed: int,
                  bounds: ArchiveBounds, budget: Budget) -> bytes:
    """Read a member stream chunk by chunk, whatever size its header claims."""
    out = bytearray()
    with stream:
        while True:
            chunk = stream.read(_READ_CHUNK)
            if not chunk:
                break
            out += chunk
            budget.take(len(chunk))
            if len(out) > bounds.max_member_bytes:
                raise _Bound("bomb", f"{path} is over {bounds.max_member_bytes} bytes decompressed")
            _check_ratio(path, len(out), compressed, bounds)
    return bytes(out)


class BudgetedWriter:
    """A py7zr writer that keeps the member in memory and stops the bomb mid-stream."""

    def __init__(self, path: str, compressed: int, bounds: ArchiveBounds, budget: Budget) -> None:
        self.path, self.compressed, self.bounds, self.budget = path, compressed, bounds, budget
        self.buffer = io.BytesIO()

    def write(self, s: bytes | bytearray) -> int:
        self.budget.take(len(s))
        self.buffer.write(s)
        size = self.buffer.tell()
        if size > self.bounds.max_member_bytes:
            raise _Bound("bomb", f"{self.path} is over {self.bounds.max_member_bytes} bytes decompressed")
        _check_ratio(self.path, size, self.compressed, self.bounds)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return self.buffer.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.buffer.seek(offset, whence)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def size(self) -> int:
        return self.buffer.getbuffer().nbytes


def _7z_members(data: bytes, label: str, depth: int, bounds: ArchiveBounds,
                budget: Budget, report: ArchiveReport) -> Iterator[Member]:
    import py7zr
    from py7zr.io import WriterFactory

    try:
        archive = py7zr.SevenZipFile(io.BytesIO(data), mode="r")
    except py7zr.exceptions.PasswordRequired:
        report.problems.append(Problem("encrypted", label, "7z archive with encrypted names"))
        return
    with archive:
        infos = [i for i in archive.list() if not i.is_directory]
        in_doc = _is_document(i.filename for i in infos)
        for _ in infos:
            budget.count_member()
        declared = sum(i.uncompressed or 0 for i in infos)
        if declared > bounds.max_total_bytes:
            raise _Bound("bomb", f"{label} declares {declared} bytes")
        if archive.needs_password():
            report.problems.append(Problem("encrypted", label, "encrypted 7z archive"))
            for i in infos:
                yield Member(f"{label}/{i.filename}", i.filename, None, i.uncompressed or 0,
                             depth, label, in_doc)
            return
        # The whole archive's packed size is all one solid block may be compared with.
        writers: dict[str, BudgetedWriter] = {}

        class Factory(WriterFactory):
            def create(self, filename: str) -> BudgetedWriter:  # type: ignore[override]
                writer = BudgetedWriter(f"{label}/{filename}", len(data), bounds, budget)
                writers[filename] = writer
                return writer

        archive.extract(factory=Factory())
        for i in infos:
            writer = writers.pop(i.filename, None)
            content = writer.buffer.getvalue() if writer else None
            yield Member(f"{label}/{i.filename}", i.filename, content, i.uncompressed or 0,
                         depth, label, in_doc)


def _rar_members(data: bytes, label: str, depth: int, bounds: ArchiveBounds,
                 budget: Budget, report: ArchiveReport) -> Iterator[Member]:
    import rarfile

    try:
        archive = rarfile.RarFile(io.BytesIO(data))
    except rarfile.PasswordRequired:
        report.problems.append(Problem("encrypted", label, "rar archive with encrypted names"))
        return
    with archive:
        infos = archive.infolist()
        in_doc = _is_document(i.filename for i in infos)
        for info in infos:
            if info.is_dir():
                continue
            budget.count_member()
            path = f"{label}/{info.filename}"
            if info.needs_password():
                report.problems.append(Problem("encrypted", path, "encrypted rar member"))
                yield Member(path, info.filename, None, info.file_size or 0, depth, label, in_doc)
                continue
            if (info.file_size or 0) > bounds.max_member_bytes:
                raise _Bound("bomb", f"{path} declares {info.file_size} bytes")
            _check_ratio(path, info.file_size or 0, info.compress_size or 0, bounds)
            try:
                # Stored members are read by rarfile itself; compressed ones need the
                # unrar tool, fed the archive through a temporary file of rarfile's own
                # naming and piping the member to stdout (never extracting by name).
                content = _read_bounded(archive.open(info), path, info.compress_size or 0,
                                        bounds, budget)
            except _Bound:
                raise
            except Exception as exc:  # noqa: BLE001 - no unrar tool, RAR5 in unrar-free, ...
                report.problems.append(Problem("unreadable", path, f"{type(exc).__name__}: {exc}"[:300]))
                content = None
            yield Member(path, info.filename, content, info.file_size or 0, depth, label, in_doc)
