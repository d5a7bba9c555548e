"""Build Office documents with VBA macros for tests, from nothing.

No macro sample is committed: a harmless VBA project is assembled here, following
[MS-CFB] (the OLE compound file) and [MS-OVBA] (the `dir` stream, module streams and
their compression). It has one module whose source is given by the test, so the
gateway's macro check sees exactly what a real Word or Excel file would carry:

    ole_with_vba(source)           a Word 97-2003 style .doc (WordDocument + Macros/VBA)
    vba_project_bin(source)        the vbaProject.bin of a macro-enabled OOXML file
    docm_with_vba(source)          a .docm zip holding that vbaProject.bin
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass, field

SECTOR = 512
MINI = 64
NOSTREAM = 0xFFFFFFFF
ENDOFCHAIN = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
FREESECT = 0xFFFFFFFF


# -- MS-OVBA compression (literal tokens only: valid, if not small) -----------------

def ovba_compress(data: bytes) -> bytes:
    out = bytearray(b"\x01")
    for start in range(0, max(len(data), 1), 3640):
        piece = data[start:start + 3640]
        chunk = bytearray()
        for i in range(0, len(piece), 8):
            chunk.append(0)                   # flag byte: the next 8 tokens are literals
            chunk += piece[i:i + 8]
        header = (len(chunk) + 2 - 3) | (0b011 << 12) | 0x8000
        out += struct.pack("<H", header) + chunk
    return bytes(out)


# -- the VBA project ------------------------------------------------------------------

def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def dir_stream(module: str) -> bytes:
    name = module.encode("ascii")
    d = bytearray()
    d += _rec(0x0001, struct.pack("<I", 1))              # PROJECTSYSKIND: win32
    d += _rec(0x0002, struct.pack("<I", 0x409))          # PROJECTLCID
    d += _rec(0x0014, struct.pack("<I", 0x409))          # PROJECTLCIDINVOKE
    d += _rec(0x0003, struct.pack("<H", 1252))           # PROJECTCODEPAGE
    d += _rec(0x0004, b"VBAProject")                      # PROJECTNAME
    d += _rec(0x0005, b"") + _rec(0x0040, b"")            # PROJECTDOCSTRING (+unicode)
    d += _rec(0x0006, b"") + _rec(0x003D, b"")            # PROJECTHELPFILEPATH
    d += _rec(0x0007, struct.pack("<I", 0))              # PROJECTHELPCONTEXT
    d += _rec(0x0008, struct.pack("<I", 0))              # PROJECTLIBFLAGS
    d += struct.pack("<HIIH", 0x0009, 4, 1, 0)           # PROJECTVERSION
    d += _rec(0x000C, b"") + _rec(0x003C, b"")            # PROJECTCONSTANTS
    d += _rec(0x000F, struct.pack("<H", 1))              # PROJECTMODULES: one
    d += _rec(0x0013, struct.pack("<H", 0xFFFF))         # PROJECTCOOKIE
    d += _rec(0x0019, name)                               # MODULENAME
    d += _rec(0x0047, module.encode("utf-16-le"))        # MODULENAMEUNICODE
    d += _rec(0x001A, name) + _rec(0x0032, module.encode("utf-16-le"))   # MODULESTREAMNAME
    d += _rec(0x001C, b"") + _rec(0x0048, b"")            # MODULEDOCSTRING
    d += _rec(0x0031, struct.pack("<I", 0))              # MODULEOFFSET: source at 0
    d += _rec(0x001E, struct.pack("<I", 0))              # MODULEHELPCONTEXT
    d += _rec(0x002C, struct.pack("<H", 0xFFFF))         # MODULECOOKIE
    d += struct.pack("<HI", 0x0021, 0)                   # MODULETYPE: procedural
    d += struct.pack("<HI", 0x002B, 0)                   # module TERMINATOR
    d += struct.pack("<HI", 0x0010, 0)                   # dir TERMINATOR
    return ovba_compress(bytes(d))


def project_stream(module: str) -> bytes:
    return (f'ID="{{00000000-0000-0000-0000-000000000000}}"\r\nModule={module}\r\n'
            f'Name="VBAProject"\r\nHelpContextID="0"\r\n\r\n[Host Extender Info]\r\n'
            f'&H00000001={{3832D640-CF90-11CF-8E43-00A0C911005A}};VBE;&H00000000\r\n').encode()


def vba_streams(source: str, module: str = "Module1", prefix: str = "") -> dict[str, bytes]:
    """OLE paths -> stream bytes of one VBA project rooted at `prefix`."""
    return {
        f"{prefix}PROJECT": project_stream(module),
        f"{prefix}VBA/dir": dir_stream(module),
        f"{prefix}VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
        f"{prefix}VBA/{module}": ovba_compress(
            f'Attribute VB_Name = "{module}"\r\n{source}'.encode("cp1252")),
    }


# -- MS-CFB writer (version 3, every stream in the mini stream) -----------------------

@dataclass
class _Entry:
    name: str
    kind: int                  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: dict[str, _Entry] = field(default_factory=dict)
    sid: int = 0
    start: int = ENDOFCHAIN


def _tree(streams: dict[str, bytes]) -> tuple[_Entry, list[_Entry]]:
    root = _Entry("Root Entry", 5)
    for path, data in streams.items():
        node = root
        *storages, leaf = path.split("/")
        for s in storages:
            node = node.children.setdefault(s, _Entry(s, 1))
        if len(data) >= 4096:
            raise ValueError("this writer keeps every stream in the mini stream (< 4096 bytes)")
        node.children[leaf] = _Entry(leaf, 2, data)
    order: list[_Entry] = []

    def number(e: _Entry) -> None:
        e.sid = len(order)
        order.append(e)
        for child in _sorted(e):
            number(child)
    number(root)
    return root, order


def _sorted(e: _Entry) -> list[_Entry]:
    return sorted(e.children.values(), key=lambda c: (len(c.name), c.name.upper()))


def write_cfb(streams: dict[str, bytes]) -> bytes:
    root, entries = _tree(streams)
    mini = bytearray()
    minifat: list[int] = []
    for e in entries:
        if e.kind == 2 and e.data:
            first = len(mini) // MINI
            n = -(-len(e.data) // MINI)
            e.start = first
            minifat += [first + i + 1 for i in range(n - 1)] + [ENDOFCHAIN]
            mini += e.data + b"\0" * (n * MINI - len(e.data))
    n_dir = -(-len(entries) // 4)
    n_mini = -(-len(mini) // SECTOR)
    n_minifat = -(-len(minifat) * 4 // SECTOR) if minifat else 0
    n_fat = 1
    while n_dir + n_mini + n_minifat + n_fat > n_fat * 128:
        n_fat += 1
    fat: list[int] = []

    def chain(count: int) -> int:
        if count == 0:
            return ENDOFCHAIN
        first = len(fat)
        fat.extend(first + i + 1 for i in range(count - 1))
        fat.append(ENDOFCHAIN)
        return first
    dir_start = chain(n_dir)
    mini_start = chain(n_mini)
    minifat_start = chain(n_minifat)
    fat_start = len(fat)
    fat.extend([FATSECT] * n_fat)
    fat.extend([FREESECT] * (n_fat * 128 - len(fat)))
    root.start = mini_start if mini else ENDOFCHAIN
    root.data = bytes(mini)

    def dirent(e: _Entry | None, left: int = NOSTREAM, right: int = NOSTREAM,
               child: int = NOSTREAM) -> bytes:
        if e is None:
            return (b"\0" * 64 + struct.pack("<HBB3I", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM)
                    + b"\0" * 36 + struct.pack("<IQ", 0, 0))
        name = e.name.encode("utf-16-le") + b"\0\0"
        size = len(mini) if e.kind == 5 else len(e.data)
        return (name.ljust(64, b"\0") + struct.pack("<HBB3I", len(name), e.kind, 1, left, right, child)
                + b"\0" * 16 + struct.pack("<IQQ", 0, 0, 0) + struct.pack("<IQ", e.start, size))

    # Each storage points at its first child; siblings form a right-leaning chain
    # (a valid, if unbalanced, binary tree; readers do not check the colours).
    right: dict[int, int] = {}
    child: dict[int, int] = {}
    for e in entries:
        kids = _sorted(e)
        if kids:
            child[e.sid] = kids[0].sid
        for a, b in zip(kids, kids[1:], strict=False):
            right[a.sid] = b.sid
    blob = bytearray()
    for e in entries:
        blob += dirent(e, NOSTREAM, right.get(e.sid, NOSTREAM), child.get(e.sid, NOSTREAM))
    while len(blob) < n_dir * SECTOR:
        blob += dirent(None)

    header = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
    header += struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096,
                          minifat_start if n_minifat else ENDOFCHAIN, n_minifat, ENDOFCHAIN, 0)
    difat = [fat_start + i for i in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header += struct.pack("<109I", *difat)
    assert len(header) == SECTOR

    body = bytearray(blob)
    body += bytes(mini).ljust(n_mini * SECTOR, b"\0")
    body += struct.pack(f"<{len(minifat)}I", *minifat).ljust(n_minifat * SECTOR, b"\xff")
    body += struct.pack(f"<{len(fat)}I", *fat)
    return bytes(header + body)


# -- documents ------------------------------------------------------------------------

AUTO_OPEN_MACRO = ('Sub AutoOpen()\r\n    Dim s\r\n    Set s = CreateObject("WScript.Shell")\r\n'
                   '    s.Run "calc.exe"\r\nEnd Sub\r\n')


def ole_with_vba(source: str = AUTO_OPEN_MACRO) -> bytes:
    streams = {"WordDocument": b"\xec\xa5" + b"\0" * 510, "\x01CompObj": b"\0" * 100}
    streams.update(vba_streams(source, prefix="Macros/"))
    return write_cfb(streams)


def vba_project_bin(source: str = AUTO_OPEN_MACRO) -> bytes:
    return write_cfb(vba_streams(source))


def docm_with_vba(source: str = AUTO_OPEN_MACRO) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml",
                    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                    '2006/content-types"><Default Extension="bin" ContentType="application/'
                    'vnd.ms-office.vbaProject"/><Override PartName="/word/document.xml" '
                    'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'
                    '</Types>')
        zf.writestr("_rels/.rels", "<Relationships/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/vbaProject.bin", vba_project_bin(source))
    return buf.getvalue()
