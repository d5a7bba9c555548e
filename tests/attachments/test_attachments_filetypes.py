"""Banned kinds, declared-vs-true mismatches and filename tricks (no I/O)."""

from __future__ import annotations

from gateway.attachments.filetypes import (
    TypeTables,
    extensions,
    name_tricks,
    type_mismatch,
)

T = TypeTables()


def test_extensions():
    assert extensions("Scan.PDF.exe") == ["pdf", "exe"]
    assert extensions("C:\\fakepath\\a.b.js") == ["b", "js"]
    assert extensions("invoice\u202efdp.exe") == ["exe"]
    assert extensions("noext") == []
    assert extensions(".hidden") == ["hidden"]


def test_banned_by_type_wins_over_name():
    hit = T.banned_kind("holiday.jpg", "application/x-dosexec")
    assert hit and hit.kind == "executable" and hit.by == "type"
    hit = T.banned_kind("a.dat", "application/octet-stream", "PE32 executable (GUI) Intel 80386")
    assert hit and hit.kind == "executable" and hit.by == "content"
    hit = T.banned_kind("RUN.JS", "text/plain")
    assert hit and hit.kind == "script" and hit.by == "extension"
    assert T.banned_kind("homework.py", "text/x-script.python") is None
    assert T.banned_kind("photo.jpg", "image/jpeg") is None


def test_banned_kinds_can_be_narrowed_and_extended():
    only_exe = TypeTables(["executable"])
    assert only_exe.banned_kind("x.js", "text/plain") is None
    assert only_exe.banned_kind("x.exe", "text/plain").kind == "executable"
    custom = TypeTables(None, {"script": ["py"]}, {})
    assert custom.banned_kind("x.py", "text/plain").kind == "script"
    assert custom.banned_kind("x.exe", "application/x-dosexec") is None


def test_type_mismatch():
    m = type_mismatch("invoice.pdf", "application/pdf", "application/x-dosexec")
    assert m and m.claimed_family == "pdf" and m.true_family == "pe"
    m = type_mismatch("scan.dat", "image/jpeg", "text/html")
    assert m and m.claimed_by == "content-type"
    # Agreement, or no opinion on either side:
    assert type_mismatch("letter.docx", "application/octet-stream", "application/zip") is None
    assert type_mismatch("photo.JPG", "image/jpeg", "image/png") is None
    assert type_mismatch("notes.txt", "text/plain", "text/plain") is None
    assert type_mismatch("report.pdf", "application/pdf", "text/plain") is None
    assert type_mismatch("data.bin", "application/octet-stream", "application/x-dosexec") is None
    assert type_mismatch("x.weird", "application/x-weird", "application/pdf") is None


def test_double_extensions():
    assert name_tricks("invoice.pdf.exe", T).double_extension == "pdf.exe"
    assert name_tricks("photo.jpg          .scr", T).double_extension in ("jpg.scr", "(padded).scr")
    assert name_tricks("payload.scr.xz", T).double_extension == "scr.xz"
    assert name_tricks("report.final.pdf", T).double_extension is None
    assert name_tricks("archive.tar.gz", T).double_extension is None
    assert name_tricks("v1.2.3.msi", T).double_extension is None


def test_bidi_controls():
    assert name_tricks("invoice\u202efdp.exe", T).bidi == ["RLO"]
    assert name_tricks("a\u2066b\u2069.txt", T).bidi == ["LRI", "PDI"]
    assert name_tricks("plain.txt", T).bidi == []
    assert name_tricks(None, T).bidi == []
