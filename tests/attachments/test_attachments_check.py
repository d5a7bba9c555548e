"""The attachments check end to end against a real clamd (no SMTP: Message + run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.checks.attachments import AttachmentsCheck, Settings, build
from gateway.envelope import Audience
from gateway.findings import Severity
from gateway.message import Message
from gateway.pipeline import structural_findings
from gateway.policy import Action, Policy
from tests.attachments.clamd import EICAR, TESTFILES, KillingProxy
from tests.attachments.helpers import (
    PROJECT_ROOT,
    codes,
    make_envelope,
    make_message,
    make_zip,
)

CLAM_EXE = TESTFILES / "clam.exe"


def _read(path: Path) -> bytes:
    return path.read_bytes()


def only(findings, code):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, (code, findings)
    return found[0]


async def test_eicar_attachment_is_a_virus(check, envelope):
    findings = await check.run(make_message(("eicar.com", EICAR, "application/octet-stream")), envelope)
    virus = only(findings, "attachment.virus")
    assert virus.severity == Severity.CRITICAL
    assert virus.data["filename"] == "eicar.com"
    assert virus.data["part"] == "1.2"
    assert "attachment.scan_failed" not in codes(findings)


async def test_eicar_renamed_pdf(check, envelope):
    findings = await check.run(make_message(("invoice.pdf", EICAR, "application/pdf")), envelope)
    assert "attachment.virus" in codes(findings)
    # EICAR is text; libmagic does not call it a PDF, and the name says PDF.
    assert "attachment.type_mismatch" in codes(findings) or EICAR.startswith(b"X5O")


async def test_eicar_in_zip_and_zip_in_zip(check, envelope):
    inner = make_zip({"eicar.com": EICAR})
    outer = make_zip({"docs/inner.zip": inner, "readme.txt": b"hello"})
    for data in (inner, outer):
        findings = await check.run(make_message(("files.zip", data, "application/zip")), envelope)
        assert "attachment.virus" in codes(findings)
        assert "attachment.archive.encrypted" not in codes(findings)


def _encrypted_zip(files: dict[str, bytes]) -> bytes:
    """A ZipCrypto-encrypted zip, built with 7z (the stdlib cannot encrypt)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        out = Path(tmp) / "out.zip"
        subprocess.run(["7z", "a", "-tzip", "-pinfected", "-mem=ZipCrypto", str(out), *files],
                       cwd=tmp, check=True, capture_output=True)
        return out.read_bytes()


async def test_eicar_in_encrypted_zip_is_a_finding_of_its_own(check, envelope):
    data = _encrypted_zip({"eicar.com": EICAR})
    findings = await check.run(make_message(("secret.zip", data, "application/zip")), envelope)
    # clamd cannot see inside; the gateway says it could not either.
    enc = only(findings, "attachment.archive.encrypted")
    assert enc.data["items"][0]["where"].endswith("secret.zip/eicar.com")
    assert "attachment.scan_failed" not in codes(findings)
    # The member's name is still judged: .com is an executable extension.
    assert "attachment.banned.executable" in codes(findings)


async def test_clamav_testfiles_sample(check, envelope):
    for sample in ("clam.exe", "clam.zip", "clam.7z", "clam.ole.doc", "clam.pdf"):
        data = _read(TESTFILES / sample)
        findings = await check.run(make_message((sample, data, "application/octet-stream")), envelope)
        assert "attachment.virus" in codes(findings), sample


async def test_pe_named_jpg(check, envelope):
    pe = _read(CLAM_EXE)
    findings = await check.run(make_message(("holiday.jpg", pe, "image/jpeg")), envelope)
    banned = only(findings, "attachment.banned.executable")
    assert banned.data["items"][0]["by"] == "type"
    mismatch = only(findings, "attachment.type_mismatch")
    assert mismatch.severity == Severity.HIGH
    assert "attachment.virus" in codes(findings)


async def test_banned_kinds_by_name_and_type(envelope):
    check = AttachmentsCheck(Settings())          # no clamd: static checks only
    cases = {
        "run.js": (b"var s = new ActiveXObject('WScript.Shell');\n", "script"),
        "go.bat": (b"@echo off\r\ndel /q *\r\n", "script"),
        "x.ps1": (b"Invoke-WebRequest http://x/y -OutFile z\n", "script"),
        "disk.iso": (b"\0" * 32768 + b"\x01CD001\x01\0" + b"\0" * 2000, "disk_image"),
        "help.chm": (_read(TESTFILES / "clam.chm"), "chm"),
        "app.jar": (make_zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
                              "a/Main.class": b"\xca\xfe\xba\xbe\0\0\0\x34" + b"\0" * 40}), "jar"),
        "doc.lnk": (b"\x4c\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0\0\0\0\x46" + b"\0" * 60, "shortcut"),
        "tool": (_read(Path("/bin/true")), "executable"),
    }
    for name, (data, kind) in cases.items():
        findings = await check.run(make_message((name, data, "application/octet-stream")), envelope)
        assert f"attachment.banned.{kind}" in codes(findings), (name, findings)
        assert "attachment.scan_disabled" in codes(findings)


async def test_double_extension_and_rtlo(envelope):
    check = AttachmentsCheck(Settings())
    findings = await check.run(make_message(
        ("invoice.pdf.exe", b"MZ" + b"\0" * 200, "application/pdf"),
        ("photo.jpg                              .scr", b"hello", "image/jpeg"),
        ("invoice\u202efdp.exe", b"hello", "application/pdf"),
    ), envelope)
    doubles = [f for f in findings if f.code == "attachment.double_extension"]
    assert sorted(f.data["items"][0]["extensions"] for f in doubles) == ["(padded).scr", "pdf.exe"] \
        or sorted(f.data["items"][0]["extensions"] for f in doubles) == ["jpg.scr", "pdf.exe"]
    assert all(f.data["count"] == 1 for f in doubles)   # one finding per attachment
    rtlo = only(findings, "attachment.rtlo")
    assert rtlo.data["items"][0]["controls"] == ["RLO"]


async def test_clean_pdf_image_and_office_pass_untouched(check, envelope):
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
           b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    docx = make_zip({"[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.'
                     b'openxmlformats.org/package/2006/content-types"><Override PartName="/word/'
                     b'document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                     b'wordprocessingml.document.main+xml"/></Types>',
                     "_rels/.rels": b"<Relationships/>",
                     "word/document.xml": b"<w:document/>"})
    csv = b"name,score\nalice,3\n"
    raw_parts = (("report.pdf", pdf, "application/pdf"), ("dot.png", png, "image/png"),
                 ("letter.docx", docx,
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                 ("scores.csv", csv, "text/csv"))
    message = make_message(*raw_parts)
    before = message.raw
    findings = await check.run(message, envelope)
    assert findings == []
    assert message.raw == before
    assert [p.payload for p in message.attachments] == [p[1] for p in raw_parts]


async def test_whole_message_scan_mode(clamd, envelope):
    check = AttachmentsCheck(Settings(clamd=clamd.address, scan_mode="message"))
    findings = await check.run(make_message(("a.txt", EICAR, "text/plain")), envelope)
    virus = only(findings, "attachment.virus")
    assert virus.data["part"] == "message"
    clean = await check.run(make_message(("a.txt", b"fine", "text/plain")), envelope)
    assert clean == []


async def test_zip_bomb_is_stopped_and_flagged(check, envelope):
    bomb = make_zip({"zeros.bin": b"\0" * (16 * 1024 * 1024)}, level=9)
    assert len(bomb) < 50_000
    findings = await check.run(make_message(("bomb.zip", bomb, "application/zip")), envelope)
    assert "attachment.archive.bomb" in codes(findings)


async def test_nested_zip_too_deep(envelope):
    check = AttachmentsCheck(Settings(archive_max_depth=3))
    data = b"innermost"
    for i in range(6):
        data = make_zip({f"level{i}.zip" if i else "x.txt": data})
    findings = await check.run(make_message(("deep.zip", data, "application/zip")), envelope)
    assert "attachment.archive.too_deep" in codes(findings)


async def test_ten_thousand_parts_gets_a_finding_not_a_crash(check, envelope):
    lines = [b"From: a@outside.example", b"To: pupil@stchristophers.example",
             b"Subject: many", b"MIME-Version: 1.0",
             b'Content-Type: multipart/mixed; boundary="b"', b""]
    for i in range(10_000):
        lines += [b"--b", b"Content-Type: application/octet-stream",
                  f'Content-Disposition: attachment; filename="f{i}.bin"'.encode(), b"", b"x"]
    lines += [b"--b--", b""]
    lines[-2:-2] = [b"--b", b"Content-Type: application/octet-stream",
                    b'Content-Disposition: attachment; filename="last.com"', b"", EICAR]
    message = Message.parse(b"\r\n".join(lines))
    assert message.limits_exceeded
    findings = await check.run(message, envelope)
    assert "mime.limits_exceeded" in codes(structural_findings(message))
    # The walk stopped, but clamd still saw the whole message (and the EICAR at its end).
    assert only(findings, "attachment.virus").data["part"] == "message"


async def test_clamd_down_is_scan_failed_never_a_pass(tmp_path, envelope):
    check = AttachmentsCheck(Settings(clamd=f"unix:{tmp_path}/nothing.sock"))
    findings = await check.run(make_message(("a.pdf", b"%PDF-1.4\n", "application/pdf")), envelope)
    assert codes(findings) == {"attachment.scan_failed"}


async def test_clamd_killed_mid_run_gives_scan_failed_and_451(private_clamd, envelope, tmp_path):
    async with KillingProxy(private_clamd, tmp_path / "proxy.sock") as proxy:
        check = AttachmentsCheck(Settings(clamd=proxy.address, scan_timeout=10))
        small = make_message(("a.pdf", b"%PDF-1.4\n", "application/pdf"))
        assert await check.run(small, envelope) == []          # clamd is fine so far
        big = make_message(("a.pdf", b"%PDF-1.4\n", "application/pdf"),
                           ("scan.tif", os.urandom(3 * 1024 * 1024), "image/tiff"))
        findings = await check.run(big, envelope)
        assert proxy.killed.is_set()
        # ... and afterwards: nobody there at all.
        after = await check.run(small, envelope)
    assert codes(after) == {"attachment.scan_failed"}
    assert "attachment.virus" not in codes(findings)
    failed = [f for f in findings if f.code == "attachment.scan_failed"]
    assert failed, findings
    failed = failed[0]
    assert failed.score == 0.0
    policy = Policy.load(PROJECT_ROOT / "config" / "policy.toml")
    for audience in Audience:
        [decision] = policy.decide(findings, make_envelope(audience))
        assert decision.action == Action.DEFER, audience


def test_settings_reject_a_bad_address_and_unknown_keys():
    with pytest.raises(ValueError):
        Settings(clamd="clamd.example:3310")
    with pytest.raises(ValueError):
        Settings(clamd="unix:/x", scan_timout=3)
    assert build(Settings(enabled=False), None) is None


def test_policy_maps_attachment_findings(tmp_path):
    from gateway.findings import Finding

    policy = Policy.load(PROJECT_ROOT / "config" / "policy.toml")

    def action(code: str, audience: Audience) -> Action:
        f = Finding(code, Severity.HIGH, 0.0, "x")
        return policy.decide([f], make_envelope(audience))[0].action

    for audience in Audience:
        assert action("attachment.virus", audience) == Action.QUARANTINE
        assert action("attachment.banned.executable", audience) == Action.QUARANTINE
        assert action("attachment.archive.bomb", audience) == Action.QUARANTINE
        assert action("attachment.scan_failed", audience) == Action.DEFER
        assert action("attachment.scan_disabled", audience) == Action.DELIVER
    assert action("attachment.macro", Audience.PUPIL) == Action.QUARANTINE




def test_gateway_toml_builds_the_check(clamd):
    from gateway.checks import Services, build_checks
    from gateway.config import load_config

    config = load_config(overrides={"checks.attachments.clamd": clamd.address})
    checks = [c for c in build_checks(config, Services(config)) if c.name == "attachments"]
    assert len(checks) == 1 and checks[0].clamd is not None


async def test_attachments_of_a_forwarded_message_are_checked(check, envelope):
    from email.message import EmailMessage

    inner = make_message(("invoice.pdf.exe", EICAR, "application/octet-stream"))
    outer = EmailMessage()
    outer["From"] = "a@outside.example"
    outer["Subject"] = "Fwd: invoice"
    outer.set_content("see below")
    outer.add_attachment(inner.email, filename="fwd.eml")       # message/rfc822
    findings = await check.run(Message.parse(outer.as_bytes()), envelope)
    assert {"attachment.virus", "attachment.double_extension",
            "attachment.banned.executable"} <= codes(findings)
    assert only(findings, "attachment.virus").data["part"] == "1.2.1.2"
