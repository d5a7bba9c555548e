"""The archive walk: zip, 7z and rar, in memory, within bounds."""

from __future__ import annotations

import io

import py7zr
import pytest

from gateway.attachments.archives import ArchiveBounds, archive_format, inspect_archive
from gateway.checks.attachments import AttachmentsCheck, Settings
from tests.attachments.clamd import EICAR, TESTFILES
from tests.attachments.helpers import SHARED_DATA, codes, make_message, make_zip


def make_7z(files: dict[str, bytes], password: str | None = None,
            header_encryption: bool = False) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password=password,
                            header_encryption=header_encryption) as archive:
        for name, data in files.items():
            archive.writestr(data, name)
    return buf.getvalue()


def problem_codes(report) -> set[str]:
    return {p.code for p in report.problems}


def test_formats():
    assert archive_format(make_zip({"a": b"x"})) == "zip"
    assert archive_format(make_7z({"a": b"x"})) == "7z"
    assert archive_format((TESTFILES / "clam.zip").read_bytes()) == "zip"
    assert archive_format(b"%PDF-1.4") is None


def test_zip_members_are_read_in_memory_with_paths_as_labels():
    data = make_zip({"../../etc/passwd": b"root:x", "/abs/evil.exe": b"MZ", "ok.txt": b"hi"})
    report = inspect_archive(data, "a.zip", ArchiveBounds())
    assert not report.problems
    assert sorted(m.name for m in report.members) == ["../../etc/passwd", "/abs/evil.exe", "ok.txt"]
    assert {m.data for m in report.members} == {b"root:x", b"MZ", b"hi"}


def test_nested_zip_paths_and_depth():
    inner = make_zip({"eicar.com": EICAR})
    report = inspect_archive(make_zip({"in/inner.zip": inner}), "outer.zip", ArchiveBounds())
    assert [m.path for m in report.members] == ["outer.zip/in/inner.zip",
                                                "outer.zip/in/inner.zip/eicar.com"]
    assert report.members[1].depth == 2 and report.members[1].data == EICAR


def test_zip_bomb_by_ratio_stops_early():
    bomb = make_zip({"zeros": b"\0" * (16 * 1024 * 1024)}, level=9)
    report = inspect_archive(bomb, "bomb.zip", ArchiveBounds())
    assert problem_codes(report) == {"bomb"}
    assert report.bytes_read < 4 * 1024 * 1024     # stopped soon after the ratio floor


def test_zip_bomb_by_total_size_across_nesting():
    layer = make_zip({"zeros": b"\0" * (2 * 1024 * 1024)}, level=9)
    nested = make_zip({f"{i}.zip": layer for i in range(20)}, level=0)
    bounds = ArchiveBounds(max_total_bytes=8 * 1024 * 1024, max_ratio=10_000)
    assert problem_codes(inspect_archive(nested, "42.zip", bounds)) == {"bomb"}


def test_too_many_members_is_a_bomb():
    many = make_zip({f"f{i}.txt": b"x" for i in range(300)})
    assert problem_codes(inspect_archive(many, "m.zip", ArchiveBounds(max_members=100))) == {"bomb"}


def test_zip_lying_about_its_size_is_still_bounded():
    data = bytearray(make_zip({"zeros": b"\0" * (2 * 1024 * 1024)}, level=9))
    # Patch the central directory's uncompressed size to claim 10 bytes.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    report = inspect_archive(bytes(data), "liar.zip",
                             ArchiveBounds(max_member_bytes=1024 * 1024, max_ratio=1e9))
    assert problem_codes(report) & {"bomb", "unreadable"}


def test_7z_members_encrypted_and_bomb():
    report = inspect_archive(make_7z({"a/b.exe": b"MZ" + b"\0" * 100, "c.txt": b"hi"}), "x.7z",
                             ArchiveBounds())
    assert not report.problems
    assert {m.name: m.data[:2] for m in report.members} == {"a/b.exe": b"MZ", "c.txt": b"hi"}

    enc = inspect_archive(make_7z({"secret.exe": b"MZ"}, password="infected"), "e.7z",
                          ArchiveBounds())
    assert problem_codes(enc) == {"encrypted"}
    assert [m.name for m in enc.members] == ["secret.exe"]       # names are still visible

    hidden = inspect_archive(make_7z({"secret.exe": b"MZ"}, password="infected",
                                     header_encryption=True), "h.7z", ArchiveBounds())
    assert problem_codes(hidden) == {"encrypted"}

    bomb = make_7z({"zeros": b"\0" * (4 * 1024 * 1024)})
    assert len(bomb) < 10_000
    assert problem_codes(inspect_archive(bomb, "b.7z", ArchiveBounds())) == {"bomb"}


def test_clamav_testfile_7z():
    report = inspect_archive((TESTFILES / "clam.7z").read_bytes(), "clam.7z", ArchiveBounds())
    assert any(m.data and m.data.startswith(b"MZ") for m in report.members)


RAR4 = SHARED_DATA / "mail" / "rspamd" / "test" / "functional" / "messages" / "rar4.eml"


@pytest.mark.skipif(not RAR4.exists(), reason="rspamd corpus not there")
def test_rar_listing():
    from gateway.message import Message

    [part] = Message.parse(RAR4.read_bytes()).attachments
    report = inspect_archive(part.payload, "f.rar", ArchiveBounds())
    assert [m.name for m in report.members] == ["fake.exe"]


def test_garbage_archive_is_unreadable_not_an_exception():
    for data in (b"PK\x03\x04" + b"\xff" * 100, b"7z\xbc\xaf\x27\x1c" + b"\0" * 50):
        report = inspect_archive(data, "junk", ArchiveBounds())
        assert problem_codes(report) == {"unreadable"}, data[:8]
    # rarfile reads a garbage RAR as an empty archive: nothing inside, nothing raised.
    report = inspect_archive(b"Rar!\x1a\x07\x00" + b"\x01" * 40, "junk", ArchiveBounds())
    assert not report.members


async def test_check_flags_banned_members_in_7z_and_encrypted_7z(envelope):
    check = AttachmentsCheck(Settings())
    plain = make_7z({"docs/invoice.pdf.exe": b"MZ" + b"\0" * 200})
    findings = await check.run(make_message(("docs.7z", plain, "application/x-7z-compressed")), envelope)
    assert {"attachment.banned.executable", "attachment.double_extension"} <= codes(findings)
    enc = make_7z({"run.js": b"WScript.Shell"}, password="123")
    findings = await check.run(make_message(("docs.7z", enc, "application/x-7z-compressed")), envelope)
    assert {"attachment.archive.encrypted", "attachment.banned.script"} <= codes(findings)


async def test_one_budget_for_the_whole_message(envelope):
    """Each zip alone is within the bound; together they are not."""
    one = make_zip({"data.bin": bytes(range(256)) * 4096}, level=1)     # 1 MiB inside
    check = AttachmentsCheck(Settings(archive_max_total_bytes=3 * 1024 * 1024))
    alone = await check.run(make_message(("a.zip", one, "application/zip")), envelope)
    assert "attachment.archive.bomb" not in codes(alone)
    many = await check.run(make_message(*((f"{i}.zip", one, "application/zip") for i in range(5))),
                           envelope)
    assert "attachment.archive.bomb" in codes(many)


def test_on_member_streams_and_drops_bytes():
    seen = []
    report = inspect_archive(make_zip({"a.txt": b"a", "b.txt": b"b"}), "x.zip", ArchiveBounds(),
                             on_member=lambda m: seen.append((m.name, m.data)))
    assert seen == [("a.txt", b"a"), ("b.txt", b"b")]
    assert all(m.data is None for m in report.members)


async def test_inspection_past_its_timeout_is_a_finding(envelope):
    check = AttachmentsCheck(Settings(inspect_timeout=0.001))
    big = make_zip({f"{i}.bin": bytes(range(256)) * 4096 for i in range(8)}, level=1)
    findings = await check.run(make_message(("big.zip", big, "application/zip")), envelope)
    assert "attachment.inspect_failed" in codes(findings)
