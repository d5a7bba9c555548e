"""Office macros: VBA in OLE documents and in macro-enabled OOXML, built in the tests."""

from __future__ import annotations

from gateway.attachments.macros import scan_macros
from gateway.checks.attachments import AttachmentsCheck, Settings
from gateway.findings import Severity
from tests.attachments.clamd import TESTFILES
from tests.attachments.helpers import codes, make_message, make_zip
from tests.attachments.vba import docm_with_vba, ole_with_vba

DOCM = "application/vnd.ms-word.document.macroEnabled.12"
HARMLESS = 'Sub Tidy()\r\n    Selection.Font.Bold = True\r\nEnd Sub\r\n'


def test_ole_document_with_vba():
    report = scan_macros(ole_with_vba(), "letter.doc")
    assert report and report.vba and report.container == "ole"
    assert report.modules == ["Module1.bas"]
    assert "AutoOpen" in report.autoexec
    assert {"CreateObject", "WScript.Shell"} <= set(report.suspicious)


def test_docm_with_vba():
    report = scan_macros(docm_with_vba(), "letter.docm")
    assert report and report.vba and report.container == "ooxml"
    assert "AutoOpen" in report.autoexec


def test_no_macros():
    assert scan_macros((TESTFILES / "clam.ole.doc").read_bytes(), "clam.doc") is None
    assert scan_macros(make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<x/>"})) is None
    assert scan_macros(make_zip({"a.txt": b"plain zip"})) is None
    assert scan_macros(b"%PDF-1.4") is None


def test_vba_project_that_defeats_the_parser_is_still_flagged():
    broken = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<x/>",
                       "word/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600})
    report = scan_macros(broken, "x.docx")
    assert report and report.vba


async def test_check_flags_docm_and_doc(envelope):
    check = AttachmentsCheck(Settings())
    findings = await check.run(make_message(
        ("report.docm", docm_with_vba(), DOCM),
        ("minutes.doc", ole_with_vba(HARMLESS), "application/msword"),
    ), envelope)
    macros = sorted((f for f in findings if f.code == "attachment.macro"),
                    key=lambda f: f.data["filename"])
    assert [f.data["filename"] for f in macros] == ["minutes.doc", "report.docm"]
    minutes, report = macros
    assert report.severity == Severity.HIGH            # runs on open, calls the shell
    assert report.data["items"][0]["autoexec"] == ["AutoOpen"]
    assert minutes.severity == Severity.MEDIUM         # a macro, but nothing alarming
    assert minutes.data["items"][0]["modules"] == ["Module1.bas"]
    assert codes(findings) == {"attachment.macro", "attachment.scan_disabled"}


async def test_docm_inside_a_zip(envelope):
    check = AttachmentsCheck(Settings())
    data = make_zip({"forms/report.docm": docm_with_vba()})
    findings = await check.run(make_message(("forms.zip", data, "application/zip")), envelope)
    [macro] = [f for f in findings if f.code == "attachment.macro"]
    assert macro.data["items"][0]["where"] == "1.2!forms.zip/forms/report.docm"


async def test_macros_can_be_switched_off(envelope):
    check = AttachmentsCheck(Settings(macros=False))
    findings = await check.run(make_message(("report.docm", docm_with_vba(), DOCM)), envelope)
    assert "attachment.macro" not in codes(findings)
