"""Office macros: VBA in OOXML (`vbaProject.bin`) and OLE documents, XLM in Excel.

A quick structural look first (a zip member named `vbaProject.bin`, an OLE file with
a `VBA` storage or Excel 4.0 macro sheets), then oletools' olevba for what a reviewer
wants to know: the module names, auto-run triggers (`AutoOpen`, `Document_Open`...)
and suspicious keywords (`Shell`, `CreateObject`, download and execute...). If
olevba cannot parse what the quick look found, the finding still stands: a document
that looks macro-enabled and defeats the parser is no safer. Blocking: call from a
thread.
"""

from __future__ import annotations

import io
import logging
import warnings
import zipfile
from dataclasses import dataclass, field

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MACRO_CONTENT_TYPES = ("macroenabled", "vbaproject")

# oletools logs parse troubles of hostile files at WARNING/ERROR; they are findings
# here, not log noise.
logging.getLogger("olevba").setLevel(logging.CRITICAL)


@dataclass
class MacroReport:
    container: str                       # "ooxml" or "ole"
    vba: bool = False
    xlm: bool = False
    modules: list[str] = field(default_factory=list)
    autoexec: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    iocs: list[str] = field(default_factory=list)
    parse_error: str | None = None

    @property
    def found(self) -> bool:
        return self.vba or self.xlm

    def summary(self) -> str:
        what = " and ".join(k for k, v in (("VBA", self.vba), ("Excel 4.0 (XLM)", self.xlm)) if v)
        bits = [f"{what} macros in an {self.container.upper()} document"]
        if self.modules:
            bits.append("modules " + ", ".join(self.modules[:8]))
        if self.autoexec:
            bits.append("runs on open via " + ", ".join(self.autoexec[:5]))
        if self.suspicious:
            bits.append("suspicious: " + ", ".join(self.suspicious[:8]))
        return "; ".join(bits)


def container_of(data: bytes) -> str | None:
    if data.startswith(OLE_MAGIC):
        return "ole"
    if data.startswith(b"PK\x03\x04"):
        return "ooxml"
    return None


def _ooxml_quick(data: bytes) -> tuple[bool, bool] | None:
    """(looks like OOXML, has a VBA project); None if not a readable zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n.lower() for n in zf.namelist()]
            is_ooxml = "[content_types].xml" in names
            vba = any(n.endswith("vbaproject.bin") for n in names)
            if is_ooxml and not vba:
                info = zf.getinfo(next(n for n in zf.namelist() if n.lower() == "[content_types].xml"))
                if info.file_size < 1024 * 1024:
                    ctypes = zf.read(info).lower()
                    vba = any(t.encode() in ctypes for t in _MACRO_CONTENT_TYPES)
            return is_ooxml, vba
    except Exception:  # noqa: BLE001
        return None


def scan_macros(data: bytes, filename: str | None = None) -> MacroReport | None:
    """A report if `data` is an Office document with macros; None otherwise."""
    container = container_of(data)
    if container is None:
        return None
    report = MacroReport(container)
    if container == "ooxml":
        quick = _ooxml_quick(data)
        if not quick or not quick[0]:
            return None          # a plain zip: the archive walk looks inside it
        report.vba = quick[1]
    try:
        with warnings.catch_warnings():
            # oletools 0.60 uses pyparsing names that warn on every import.
            warnings.simplefilter("ignore")
            from oletools.olevba import VBA_Parser

        parser = VBA_Parser(filename or "attachment", data=data)
        try:
            if parser.detect_vba_macros():
                report.vba = True
                for _, _, vba_name, _ in parser.extract_macros():
                    if vba_name and vba_name not in report.modules:
                        report.modules.append(vba_name)
            if parser.detect_xlm_macros():
                report.xlm = True
            if report.found:
                for kind, keyword, _ in parser.analyze_macros():
                    bucket = {"AutoExec": report.autoexec, "Suspicious": report.suspicious,
                              "IOC": report.iocs}.get(kind)
                    if bucket is not None and keyword not in bucket:
                        bucket.append(str(keyword))
        finally:
            parser.close()
    except Exception as exc:  # noqa: BLE001 - oletools on hostile input
        report.parse_error = f"{type(exc).__name__}: {exc}"[:300]
    return report if report.found else None
