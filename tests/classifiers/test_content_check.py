"""The content check: gross content becomes a finding naming the kind, and the policy
holds it for a pupil; quoted text is not blamed; time, volume and capacity reported."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.attachments.text import readable_parts, shown_text
from gateway.checks import content
from gateway.envelope import Audience, Direction, Envelope, Party
from gateway.message import Message, Part
from gateway.policy import Action, Policy

ROOT = Path(__file__).resolve().parents[2]
RACIST = ("Those filthy niggers are subhuman animals, they should all be sent back or wiped "
          "out. Pass it on.")


def make_raw(subject: str, body: str, html: str | None = None, attach: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "someone@outside.example"
    msg["To"] = "pupil@stchristophers.example"
    msg["Subject"] = subject
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    if attach:
        msg.add_attachment(attach, maintype="application", subtype="octet-stream",
                           filename="data.bin")
    return msg.as_bytes()


def envelope(*audiences: Audience, when: dt.datetime | None = None) -> Envelope:
    rcpts = [Party(f"r{i}@stchristophers.example", a) for i, a in enumerate(audiences)]
    return Envelope("someone@outside.example", Party("someone@outside.example",
                    Audience.EXTERNAL), rcpts, "192.0.2.1", "outside.example",
                    Direction.INBOUND,
                    received_at=when or dt.datetime(2025, 3, 4, 10, 0, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def check():
    return content.build(content.Settings(), None)


@pytest.fixture(scope="module")
def policy():
    return Policy.load(ROOT / "config" / "policy.toml")


async def test_gross_message_is_held_for_a_pupil_and_names_the_kind(check, policy):
    message = Message.parse(make_raw("you lot", RACIST))
    env = envelope(Audience.PUPIL, Audience.STAFF)
    findings = await check.run(message, env)
    codes = [f.code for f in findings]
    gross = [f for f in findings if f.code.startswith("content.gross.")]
    assert gross, codes
    assert "content.gross.racist" in codes
    racist = next(f for f in gross if f.code == "content.gross.racist")
    assert "racist" in racist.detail and racist.score > 0
    assert racist.data["part"] == "own words"
    assert racist.data["words"]
    decisions = {d.audience: d for d in policy.decide(findings, env)}
    assert decisions[Audience.PUPIL].action == Action.QUARANTINE
    assert decisions[Audience.PUPIL].alert


async def test_clean_message_has_only_info_findings(check, policy):
    message = Message.parse(make_raw(
        "Year 8 RE trip", "The Year 8 RE trip to the mosque and the synagogue is on Friday. "
        "Muslim and Jewish parents have kindly offered to help. Please bring a packed lunch."))
    env = envelope(Audience.PUPIL)
    findings = await check.run(message, env)
    assert {f.code for f in findings} == {"content.capacity", "content.volume", "content.time"}
    assert all(f.score == 0 for f in findings)
    assert policy.decide(findings, env)[0].action == Action.DELIVER


async def test_quoted_reply_is_not_blamed_on_the_replier(check):
    body = ("I'm sorry you received this. I have passed it to the safeguarding lead.\n\n"
            f"On Tue, 4 Mar 2025, someone <x@y.example> wrote:\n> {RACIST}\n")
    findings = await check.run(Message.parse(make_raw("Re: you lot", body)),
                               envelope(Audience.STAFF))
    codes = {f.code for f in findings}
    assert not any(c.startswith(("content.gross.", "content.serious.")) for c in codes), codes
    quoted = [f for f in findings if f.code.startswith("content.quoted.")]
    assert quoted and all(f.score == 0 for f in quoted)


async def test_text_after_a_signature_line_is_the_senders(check, policy):
    """A "-- " line cannot hide what follows it: it is scored as the sender's words."""
    body = f"See you on Monday.\n-- \n{RACIST}\n"
    env = envelope(Audience.PUPIL)
    findings = await check.run(Message.parse(make_raw("hello", body)), env)
    racist = [f for f in findings if f.code == "content.gross.racist"]
    assert racist and racist[0].data["part"] == "own words"
    assert policy.decide(findings, env)[0].action == Action.QUARANTINE


async def test_an_html_alternative_cannot_hide_behind_a_benign_plain_one(check, policy):
    """Clients show the HTML: before, a plain alternative hid it from the check."""
    raw = make_raw("hello", "See you on Monday.",
                   html=f"<html><body><p>See you on Monday.</p><p>{RACIST}</p></body></html>")
    env = envelope(Audience.PUPIL)
    findings = await check.run(Message.parse(raw), env)
    assert "content.gross.racist" in {f.code for f in findings}
    assert policy.decide(findings, env)[0].action == Action.QUARANTINE


async def test_offensive_quoted_text_is_held_for_a_pupil_not_blamed(check, policy):
    """Anyone can write "> " before a line: quoted text is never blamed on the sender,
    but a pupil does not receive it unseen. Staff receive it with an INFO finding."""
    body = f"thought you should see what they are saying about you\n> {RACIST}\n"
    message = Message.parse(make_raw("Re: you lot", body))
    env = envelope(Audience.PUPIL, Audience.STAFF)
    findings = await check.run(message, env)
    codes = {f.code for f in findings}
    assert not any(c.startswith(("content.gross.", "content.serious.")) for c in codes), codes
    quoted = [f for f in findings if f.code.startswith("content.quoted.")]
    assert quoted and all(f.score == 0 and "not attributed" in f.detail for f in quoted)
    decisions = {d.audience: d for d in policy.decide(findings, env)}
    assert decisions[Audience.PUPIL].action == Action.QUARANTINE
    assert any("quoted" in r for r in decisions[Audience.PUPIL].reasons)
    assert decisions[Audience.STAFF].action == Action.DELIVER


BENIGN = "The minibus is booked for the netball fixture and we leave at half past one. "


async def test_text_after_the_first_piece_is_scored(check, policy):
    """Text is read in pieces of max_chars: padding no longer pushes words out of reach."""
    body = BENIGN * (25_000 // len(BENIGN)) + "\n" + RACIST + "\n"
    env = envelope(Audience.PUPIL)
    findings = await check.run(Message.parse(make_raw("fixture", body)), env)
    assert "content.gross.racist" in {f.code for f in findings}
    assert "content.unscored" not in {f.code for f in findings}
    assert policy.decide(findings, env)[0].action == Action.QUARANTINE


async def test_text_beyond_what_is_read_is_said_and_held_for_a_pupil(policy):
    small = content.ContentCheck(content.Settings(max_chars=1_000, max_scored_chars=3_000),
                                 content.build(content.Settings(), None).classifier)
    body = BENIGN * (5_000 // len(BENIGN)) + RACIST
    env = envelope(Audience.PUPIL, Audience.STAFF)
    findings = await small.run(Message.parse(make_raw("fixture", body)), env)
    by = {f.code: f for f in findings}
    assert "content.gross.racist" not in by        # it lies beyond the 3,000 read
    unread = by["content.unscored"].data["unscored_chars"]
    assert len(body) - 3_000 <= unread <= len(body) - 2_000
    assert by["content.unscored"].data["unread_attachment_bytes"] == 0
    assert f"{unread} characters of text" in by["content.unscored"].detail
    decisions = {d.audience: d.action for d in policy.decide(findings, env)}
    assert decisions == {Audience.PUPIL: Action.QUARANTINE, Audience.STAFF: Action.TAG}


def test_pieces_are_cut_between_words():
    text = "word " * 1_000
    ends, start = [], 0
    while start < len(text):
        start = content.piece_end(text, start, 333)
        ends.append(start)
    assert ends[-1] == len(text) and all(text[e] == " " for e in ends[:-1])
    assert max(b - a for a, b in zip([0, *ends[:-1]], ends, strict=True)) <= 333


def docx(body: str) -> bytes:
    """A minimal Word document (libmagic calls it one) whose body is `body`, split into
    runs mid-word as Word does."""
    runs = "".join(f"<w:r><w:t xml:space='preserve'>{body[i:i + 7]}</w:t></w:r>"
                   for i in range(0, len(body), 7))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://'
                    'schemas.openxmlformats.org/package/2006/content-types"><Override '
                    'PartName="/word/document.xml" ContentType="application/vnd.openxml'
                    'formats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://'
                    'schemas.openxmlformats.org/package/2006/relationships"><Relationship '
                    'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        zf.writestr("word/document.xml", "<?xml version='1.0'?><w:document xmlns:w='http://"
                    "schemas.openxmlformats.org/wordprocessingml/2006/main'><w:body><w:p>"
                    f"{runs}</w:p><w:p><w:r><w:t>Jo</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def ooxml(main: str, kind: str, parts: dict[str, str]) -> bytes:
    """A minimal Office Open XML package (libmagic knows it by its main part's type)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://'
                    'schemas.openxmlformats.org/package/2006/content-types"><Override '
                    f'PartName="/{main}" ContentType="application/vnd.openxmlformats-'
                    f'officedocument.{kind}.main+xml"/></Types>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://'
                    'schemas.openxmlformats.org/package/2006/relationships"><Relationship '
                    'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    f'relationships/officeDocument" Target="{main}"/></Relationships>')
        zf.writestr(main, "<main/>")
        for name, xml in parts.items():
            zf.writestr(name, xml)
    return out.getvalue()


def xlsx(cell: str) -> bytes:
    """A spreadsheet: its cells' text is in xl/sharedStrings.xml."""
    return ooxml("xl/workbook.xml", "spreadsheetml.sheet", {
        "xl/sharedStrings.xml": f"<sst><si><t>Name</t></si><si><t>{cell}</t></si></sst>"})


def pptx(*slides: str) -> bytes:
    """A presentation: a member per slide, listed here in the order given."""
    return ooxml("ppt/presentation.xml", "presentationml.presentation", {
        f"ppt/slides/slide{n}.xml": f"<p:sld><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:sld>"
        for n, text in slides})


def odt(body: str, kind: str = "text") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), f"application/vnd.oasis.opendocument.{kind}")
        zf.writestr("content.xml", "<?xml version='1.0'?><office:document-content xmlns:"
                    "office='urn:oasis:names:tc:opendocument:xmlns:office:1.0' xmlns:text="
                    "'urn:oasis:names:tc:opendocument:xmlns:text:1.0'><office:body><office:"
                    f"text><text:p>{body}</text:p></office:text></office:body>"
                    "</office:document-content>")
    return out.getvalue()


@pytest.mark.parametrize("name, data", [
    ("poem.txt", RACIST.encode()),
    ("page.html", f"<html><body><p>{RACIST}</p></body></html>".encode()),
    ("notes.dat", RACIST.encode("utf-16")),       # declared nothing, bytes are text
    ("essay.docx", docx(RACIST)),
    ("essay.odt", odt(RACIST)),
    ("renamed.jpg", docx(RACIST)),                # by its bytes, not its name
    ("marks.xlsx", xlsx(RACIST)),
    ("marks.ods", odt(RACIST, "spreadsheet")),
    ("slides.odp", odt(RACIST, "presentation")),
    ("slides.pptx", pptx((1, "Our trip"), (2, RACIST))),
], ids=["txt", "html", "utf16", "docx", "odt", "docx-named-jpg", "xlsx", "ods", "odp",
        "pptx"])
async def test_a_text_attachment_is_scored(check, policy, name, data):
    raw = make_raw("see attached", "Here it is.", attach=data)
    raw = raw.replace(b'filename="data.bin"', f'filename="{name}"'.encode())
    env = envelope(Audience.PUPIL)
    findings = await check.run(Message.parse(raw), env)
    racist = [f for f in findings if f.code == "content.gross.racist"]
    assert racist and racist[0].data["part"] == f"attached text ({name})"
    assert policy.decide(findings, env)[0].action == Action.QUARANTINE


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def attach(data: bytes, name: str) -> bytes:
    raw = make_raw("see attached", "Here it is.", attach=data)
    return raw.replace(b'filename="data.bin"', f'filename="{name}"'.encode())


@pytest.mark.parametrize("data, where", [
    (zipped({"readme.txt": b"hello", "notes/poem.txt": RACIST.encode()}),
     "files.zip/notes/poem.txt"),
    (zipped({"inner.zip": zipped({"essay.docx": docx(RACIST)})}),
     "files.zip/inner.zip/essay.docx"),
    (zipped({"[Content_Types].xml": b"<Types/>", "poem.txt": RACIST.encode()}),
     "files.zip/poem.txt"),                 # listing a document's part makes no document
], ids=["txt-in-zip", "docx-in-zip-in-zip", "zip-posing-as-document"])
async def test_text_inside_an_archive_is_scored(check, policy, data, where):
    env = envelope(Audience.PUPIL)
    findings = await check.run(Message.parse(attach(data, "files.zip")), env)
    racist = [f for f in findings if f.code == "content.gross.racist"]
    assert racist and racist[0].data["part"] == f"attached text ({where})"
    assert policy.decide(findings, env)[0].action == Action.QUARANTINE


async def test_a_large_archive_is_read_as_far_as_its_text(check):
    """Photos take no part of the text budget: 12 MB of them are no reason to hold mail."""
    photos = {f"photo{i}.jpg": b"\xff\xd8\xff\xe0" + os.urandom(3_000_000) for i in range(4)}
    data = zipped({**photos, "caption.txt": RACIST.encode()})
    findings = await check.run(Message.parse(attach(data, "holiday.zip")), envelope(Audience.PUPIL))
    codes = {f.code for f in findings}
    assert "content.gross.racist" in codes and "content.unscored" not in codes


def test_slides_are_read_in_their_order():
    deck = pptx((10, "ten"), (2, "two"), (1, "one"))
    text, unread = shown_text(Part("2", "", "deck.pptx", None, deck, 1), 20_000)
    assert text.split() == ["one", "two", "ten"] and unread == 0


def test_a_document_in_an_archive_is_read_once_as_a_document():
    """Its own parts (word/document.xml, text to libmagic) are not read again as files."""
    data = zipped({"inner.zip": zipped({"essay.docx": docx(RACIST), "a.txt": b"hi"})})
    parts, unread = readable_parts(Part("2", "application/zip", "files.zip", None, data, 1),
                                   20_000)
    assert sorted(p.filename for p in parts) == ["files.zip/inner.zip/a.txt",
                                                 "files.zip/inner.zip/essay.docx"]
    assert unread == 0


async def test_an_archive_that_cannot_be_read_is_said_to_be_unscored(check):
    data = bytearray(zipped({"poem.txt": (RACIST * 20).encode()}))
    at = data.find(b"poem.txt") + len(b"poem.txt") + 10      # into the deflated bytes
    data[at:at + 8] = b"\xff" * 8                               # so its CRC fails
    findings = await check.run(Message.parse(attach(bytes(data), "files.zip")),
                               envelope(Audience.PUPIL))
    unscored = {f.code: f for f in findings}["content.unscored"]
    assert unscored.data["unread_attachment_bytes"] == len(data)
    assert unscored.data["unscored_chars"] == 0          # bytes are not called characters
    assert f"{len(data)} bytes of attachments" in unscored.detail


async def test_a_document_that_cannot_be_read_is_said_to_be_unscored(check, policy):
    """A Word file whose body is missing (or encrypted, broken, too large) is not a pass."""
    broken = docx(RACIST).replace(b"word/document.xml", b"word/documenX.xml")
    raw = make_raw("see attached", "Here it is.", attach=broken)
    raw = raw.replace(b'filename="data.bin"', b'filename="essay.docx"')
    env = envelope(Audience.PUPIL)
    findings = await check.run(Message.parse(raw), env)
    assert {f.code: f for f in findings}["content.unscored"].data[
        "unread_attachment_bytes"] == len(broken)
    assert policy.decide(findings, env)[0].action == Action.QUARANTINE


async def test_a_binary_attachment_is_not_read_as_text(check):
    raw = make_raw("photo", "Here it is.", attach=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    findings = await check.run(Message.parse(raw), envelope(Audience.PUPIL))
    assert {f.code for f in findings} == {"content.capacity", "content.volume", "content.time"}


async def test_html_only_body_is_read(check):
    raw = make_raw("hi", "", html=f"<html><body><p>{RACIST}</p></body></html>")
    msg = Message.parse(raw)
    msg.text_parts = [t for t in msg.text_parts if t.kind == "html"]
    findings = await check.run(msg, envelope(Audience.PUPIL))
    assert any(f.code.startswith("content.gross.") for f in findings)


async def test_time_volume_capacity(check):
    raw = make_raw("Fwd: Fwd: news", "see below", attach=b"x" * 5000)
    evening = dt.datetime(2025, 3, 4, 21, 30, tzinfo=dt.UTC)
    findings = await check.run(Message.parse(raw),
                               envelope(*[Audience.STAFF] * 3, when=evening))
    by = {f.code: f for f in findings}
    assert by["content.volume"].data == {"recipients": 3, "forwards": 2,
                                         "many_recipients": False}
    assert by["content.capacity"].data["attachments"][0]["bytes"] == 5000
    assert by["content.capacity"].data["message_bytes"] == len(raw)
    assert by["content.time"].data["working_hours"] is False
    inside = await check.run(Message.parse(raw), envelope(Audience.STAFF))
    assert {f.code: f for f in inside}["content.time"].data["working_hours"] is True


def test_pupil_thresholds_are_the_strictest(check):
    aud, levels = check.thresholds_for(envelope(Audience.STAFF, Audience.PUPIL))
    assert aud == "pupil" and levels.serious < content.Settings().staff.serious
    aud, _ = check.thresholds_for(envelope(Audience.STAFF))
    assert aud == "staff"


def test_bad_model_path_stops_the_gateway(tmp_path):
    from gateway.config import ConfigError

    with pytest.raises(ConfigError, match="checks.content.model"):
        content.build(content.Settings(model=str(tmp_path / "nope.skops")), None)


async def test_each_audience_is_judged_by_its_own_thresholds(policy):
    # Margins wide enough that a retrained model still falls between them.
    strict = content.build(content.Settings(
        pupil=content.Levels(mild=0.3, serious=0.5, gross=0.5),
        staff=content.Levels(mild=0.999, serious=0.999, gross=0.999)), None)
    env = envelope(Audience.PUPIL, Audience.STAFF)
    pupil, staff = (r.address for r in env.recipients)
    findings = await strict.run(Message.parse(make_raw("hi", "go to hell\n")), env)
    offensive = [f for f in findings if f.code.startswith(("content.serious.", "content.gross."))]
    assert offensive and all(f.recipients == (pupil,) for f in offensive)
    by_rcpt = {d.recipient: d.action for d in policy.decide(findings, env)}
    assert by_rcpt[pupil] is Action.QUARANTINE and by_rcpt[staff] is Action.DELIVER


@pytest.mark.parametrize("pupil", [content.Settings().pupil,
                                   content.Levels(mild=0.3, serious=0.5, gross=0.5)])
async def test_kinds_only_over_the_lowest_threshold_change_no_finding(pupil, monkeypatch):
    """The check asks the classifier for kinds only from its lowest threshold (most mail
    is then spared the kind model): its findings are those it makes with every text's
    kinds worked out, for short and long mail, own words and quoted."""
    from classifiers import functional

    check = content.build(content.Settings(pupil=pupil), None)
    assert check.settings.lowest_threshold == min(pupil.mild, 0.6)
    letter = ("Dear parents, the school trip to the museum is on Friday. Please bring a "
              "packed lunch and a coat. The coach leaves at nine and returns at four. ") * 3
    cases = [case["text"] for case in functional.load_cases()]
    bodies = cases + [f"{letter}\n{case}\n{letter}" for case in cases[::2]] + [
        f"Fine by me.\n\nOn Mon, Sam wrote:\n> {case}\n" for case in cases[::3]]
    messages = [Message.parse(make_raw("Re: this week", body)) for body in bodies]
    env = envelope(Audience.PUPIL, Audience.STAFF)
    asked = []
    score = check.classifier.score

    def recording(texts, explain=False, kinds_from=0.0):
        asked.append(kinds_from)
        return score(texts, explain, kinds_from)

    monkeypatch.setattr(check.classifier, "score", recording)
    floored = [await check.run(m, env) for m in messages]
    assert set(asked) == {check.settings.lowest_threshold}
    monkeypatch.setattr(check.classifier, "score",
                        lambda texts, explain=False, kinds_from=0.0: score(texts, explain))
    every = [await check.run(m, env) for m in messages]
    assert floored == every
    named = [f for fs in every for f in fs if f.code.startswith(("content.gross.",
                                                                 "content.serious.",
                                                                 "content.mild.",
                                                                 "content.quoted."))]
    assert len(named) > 20
