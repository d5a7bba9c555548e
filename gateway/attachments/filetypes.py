"""What a file really is, and what its name pretends.

Three questions about one attachment (or archive member):

- `banned_kind`: is it one of the banned kinds (executable, script, shortcut,
  disk image, chm, jar), judged by its true type (libmagic) first and its extension
  second — either is enough, because a PE named `.jpg` and a script libmagic calls
  "text/plain" are both dangerous;
- `type_mismatch`: does the name or the declared Content-Type claim a family (image,
  pdf, office, archive...) that the bytes are not;
- `name_tricks`: double extensions (`invoice.pdf.exe`, `scan.jpg      .scr`) and bidi
  control characters (`invoice‮fdp.exe` shows as `invoiceexe.pdf`).

The tables are defaults; the check's settings can replace them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KINDS = ("executable", "script", "shortcut", "disk_image", "chm", "jar")

DEFAULT_BANNED_EXTENSIONS: dict[str, list[str]] = {
    "executable": ["exe", "dll", "scr", "com", "pif", "cpl", "msi", "msp", "mst", "sys",
                   "drv", "ocx", "gadget", "application", "appx", "appxbundle", "msix",
                   "msixbundle", "elf", "so", "dylib", "xll", "wll", "apk"],
    "script": ["js", "jse", "vbs", "vbe", "ps1", "psm1", "psd1", "ps1xml", "bat", "cmd",
               "hta", "wsf", "wsh", "wsc", "sct", "vb", "msh", "msh1", "msh2", "reg",
               "inf", "scf", "command", "applescript"],
    "shortcut": ["lnk", "url", "website", "settingcontent-ms", "desktop", "appref-ms",
                 "library-ms", "searchconnector-ms"],
    "disk_image": ["iso", "img", "vhd", "vhdx", "dmg", "udf", "vmdk"],
    "chm": ["chm", "hlp"],
    "jar": ["jar", "class", "jnlp"],
}

DEFAULT_BANNED_TYPES: dict[str, list[str]] = {
    "executable": ["application/x-dosexec", "application/vnd.microsoft.portable-executable",
                   "application/x-msdownload", "application/x-executable",
                   "application/x-sharedlib", "application/x-pie-executable",
                   "application/x-mach-binary", "application/x-msi"],
    # Windows double-click scripts. Shell, Python and Perl files are left out on
    # purpose: pupils email their computing homework; add them in settings if wanted.
    "script": ["text/x-msdos-batch", "application/javascript", "text/javascript",
               "application/x-javascript", "text/vbscript", "application/hta"],
    "shortcut": ["application/x-ms-shortcut"],
    "disk_image": ["application/x-iso9660-image", "application/x-virtualbox-vhd",
                   "application/x-virtualbox-vhdx", "application/x-apple-diskimage",
                   "application/x-udf-image", "application/x-virtualbox-vmdk"],
    "chm": ["application/vnd.ms-htmlhelp", "application/x-chm"],
    "jar": ["application/java-archive", "application/x-java-applet",
            "application/x-java-archive", "application/x-java-jnlp-file"],
}

# libmagic descriptions for types it has no MIME name for.
_DESCRIPTION_KINDS = (
    (re.compile(r"^PE32\+? executable|^MS-DOS executable"), "executable"),
    (re.compile(r"^ELF \d\d-bit .*(executable|shared object)"), "executable"),
    (re.compile(r"^Mach-O "), "executable"),
    (re.compile(r"^MS Windows shortcut"), "shortcut"),
    (re.compile(r"^ISO 9660|^UDF filesystem|^Microsoft Disk Image|^VHDX"), "disk_image"),
    (re.compile(r"^MS Windows HtmlHelp"), "chm"),
    (re.compile(r"^compiled Java class"), "jar"),
)

# Families for the name/declared-type vs true-type comparison. A family a name or a
# declared type claims is compared with the family of the bytes; unknown on either
# side means "no opinion", never a mismatch.
_EXT_FAMILY = {
    **dict.fromkeys(["jpg", "jpeg", "jpe", "png", "gif", "bmp", "tif", "tiff", "webp",
                     "heic", "heif", "ico"], "image"),
    "pdf": "pdf",
    **dict.fromkeys(["doc", "dot", "xls", "xlt", "ppt", "pot", "pps", "msg", "pub",
                     "vsd"], "ole"),
    **dict.fromkeys(["docx", "docm", "dotx", "dotm", "xlsx", "xlsm", "xltx", "xltm",
                     "xlsb", "pptx", "pptm", "ppsx", "ppsm", "potx", "potm", "vsdx"],
                    "ooxml"),
    **dict.fromkeys(["odt", "ods", "odp", "odg"], "odf"),
    "zip": "zip", "7z": "7z", "rar": "rar", "gz": "gzip", "tgz": "gzip",
    **dict.fromkeys(["txt", "csv", "log", "ics", "vcf"], "text"),
    **dict.fromkeys(["htm", "html"], "html"),
    "rtf": "rtf",
    **dict.fromkeys(["mp3", "wav", "m4a", "ogg", "mp4", "mov", "avi", "mkv", "webm"],
                    "media"),
    **dict.fromkeys(["exe", "dll", "scr", "com", "cpl", "sys", "ocx"], "pe"),
}

_COMPATIBLE = {
    # claimed family -> true families accepted for it
    "ooxml": {"ooxml", "zip"},
    "odf": {"odf", "zip"},
    "ole": {"ole"},
    "text": {"text", "html"},
    "html": {"html", "text"},
    "rtf": {"rtf", "text"},
    "pe": {"pe"},
}

_GENERIC_DECLARED = {"application/octet-stream", "application/x-download",
                     "application/force-download", "application/unknown",
                     "application/binary", "binary/octet-stream", "application/download"}


def true_family(mime: str) -> str | None:
    mime = mime.lower()
    if mime.startswith("image/"):
        return "image"
    if mime.startswith(("audio/", "video/")):
        return "media"
    if mime == "application/pdf":
        return "pdf"
    if mime.startswith("application/vnd.openxmlformats-officedocument.") or \
            mime.startswith("application/vnd.ms-") and "macroenabled" in mime:
        return "ooxml"
    if mime in {"application/msword", "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint", "application/x-ole-storage",
                "application/cdfv2", "application/vnd.ms-office", "application/vnd.ms-outlook",
                "application/vnd.visio", "application/vnd.ms-publisher"}:
        return "ole"
    if mime.startswith("application/vnd.oasis.opendocument."):
        return "odf"
    if mime in {"application/zip", "application/x-zip-compressed"}:
        return "zip"
    if mime == "application/x-7z-compressed":
        return "7z"
    if mime in {"application/x-rar", "application/vnd.rar", "application/x-rar-compressed"}:
        return "rar"
    if mime in {"application/gzip", "application/x-gzip"}:
        return "gzip"
    if mime in {"application/x-dosexec", "application/vnd.microsoft.portable-executable",
                "application/x-msdownload"}:
        return "pe"
    if mime in {"application/x-executable", "application/x-sharedlib",
                "application/x-pie-executable"}:
        return "elf"
    if mime == "application/x-mach-binary":
        return "macho"
    if mime in {"text/rtf", "application/rtf"}:
        return "rtf"
    if mime == "text/html":
        return "html"
    if mime.startswith("text/"):
        return "text"
    return None


def declared_family(mime: str) -> str | None:
    mime = mime.lower()
    if mime in _GENERIC_DECLARED or mime.startswith("multipart/") or mime.startswith("message/"):
        return None
    # A declared text/* type says little (mailers label many things text/plain).
    if mime.startswith("text/") and mime not in {"text/html", "text/rtf"}:
        return None
    return true_family(mime)


BIDI_CONTROLS = {
    "\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO",
    "\u2066": "LRI", "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI",
    "\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM",
}


def extensions(filename: str) -> list[str]:
    """Lower-cased extensions, innermost last: "Scan.PDF.exe" -> ["pdf", "exe"]."""
    name = _strip_invisible(filename).rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    parts = name.split(".")[1:]
    return [p.strip().lower() for p in parts if p.strip()]


def last_extension(filename: str | None) -> str:
    exts = extensions(filename or "")
    return exts[-1] if exts else ""


def _strip_invisible(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))


@dataclass(frozen=True)
class Banned:
    kind: str
    by: str            # "type" or "extension" or "content"
    evidence: str


class TypeTables:
    """The banned-kind tables in effect (defaults, or replaced from settings)."""

    def __init__(self, banned_kinds: list[str] | None = None,
                 extensions_by_kind: dict[str, list[str]] | None = None,
                 types_by_kind: dict[str, list[str]] | None = None) -> None:
        self.kinds = set(banned_kinds if banned_kinds is not None else KINDS)
        ext_table = extensions_by_kind if extensions_by_kind is not None else DEFAULT_BANNED_EXTENSIONS
        type_table = types_by_kind if types_by_kind is not None else DEFAULT_BANNED_TYPES
        self.ext_kind = {e.lower().lstrip("."): k for k, es in ext_table.items() for e in es}
        self.type_kind = {t.lower(): k for k, ts in type_table.items() for t in ts}

    def kind_of_extension(self, ext: str) -> str | None:
        return self.ext_kind.get(ext.lower())

    def banned_kind(self, filename: str | None, true_type: str,
                    description: str = "") -> Banned | None:
        """The banned kind this file is, if any; its true type wins over its name."""
        kind = self.type_kind.get(true_type.lower())
        if kind in self.kinds:
            return Banned(kind, "type", true_type)
        for pattern, kind in _DESCRIPTION_KINDS:
            if kind in self.kinds and pattern.search(description):
                return Banned(kind, "content", description[:120])
        ext = last_extension(filename)
        kind = self.ext_kind.get(ext)
        if kind in self.kinds:
            return Banned(kind, "extension", f".{ext}")
        return None


@dataclass(frozen=True)
class Mismatch:
    claimed_by: str     # "extension" or "content-type"
    claimed: str        # ".pdf" or "image/jpeg"
    claimed_family: str
    true_type: str
    true_family: str


def type_mismatch(filename: str | None, declared_type: str, true_type: str) -> Mismatch | None:
    """A name or declared type whose family the bytes contradict; None if they agree
    or either side is unknown."""
    actual = true_family(true_type)
    if actual is None:
        return None
    ext = last_extension(filename)
    claims = []
    if ext in _EXT_FAMILY:
        claims.append(("extension", f".{ext}", _EXT_FAMILY[ext]))
    fam = declared_family(declared_type)
    if fam:
        claims.append(("content-type", declared_type.lower(), fam))
    for by, claimed, family in claims:
        if actual not in _COMPATIBLE.get(family, {family}):
            # Plain text is what libmagic says about many short or odd files; only a
            # claim of a binary family it contradicts with *executable* text matters.
            if actual == "text" and family not in ("pe",):
                continue
            return Mismatch(by, claimed, family, true_type, actual)
    return None


@dataclass(frozen=True)
class NameTricks:
    bidi: list[str]            # names of the bidi controls found ("RLO", ...)
    double_extension: str | None    # "pdf.exe" when a harmless-looking extension hides a banned one


_LOOKALIKE = set(_EXT_FAMILY) - {"exe", "dll", "scr", "com", "cpl", "sys", "ocx"}
_COMPRESSED = {"gz", "xz", "bz2", "z", "lz", "lzma", "zst", "zip", "7z", "rar", "cab", "tar",
               "tgz", "arj", "ace", "lzh"}


def name_tricks(filename: str | None, tables: TypeTables) -> NameTricks:
    if not filename:
        return NameTricks([], None)
    bidi = sorted({BIDI_CONTROLS[c] for c in filename if c in BIDI_CONTROLS})
    exts = extensions(filename)
    double = None
    if len(exts) >= 2 and exts[-1] in tables.ext_kind and exts[-2] in _LOOKALIKE:
        double = f"{exts[-2]}.{exts[-1]}"
    elif len(exts) >= 2 and exts[-1] in _COMPRESSED and exts[-2] in tables.ext_kind:
        # "invoice.scr.xz": a program, compressed so that its name ends harmlessly
        double = f"{exts[-2]}.{exts[-1]}"
    elif exts and exts[-1] in tables.ext_kind and re.search(r"\s{3,}\.[^.]+$", filename):
        # "photo.jpg                         .exe" hides the real extension off-screen
        double = f"(padded).{exts[-1]}"
    return NameTricks(bidi, double)
