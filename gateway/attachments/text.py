"""The text an attachment shows whoever opens it, for the content check: a text file
(plain or HTML), the body of a Word (.docx) or OpenDocument (.odt) document, the cells of
a spreadsheet (.xlsx, .ods), the slides of a presentation (.pptx, .odp), alone or inside
a zip, 7z or rar archive (zipping a note must not hide it).

By the bytes' true type (libmagic), whatever name or type the sender gave. A document's
text is in one zip member or a few (a slide each), read within bounds
(`archives.read_members`); its XML is taken apart by pattern, never parsed with a DTD, so
entity tricks have nothing to expand.
Nothing is run or written anywhere.
"""

from __future__ import annotations

import html
import re

from classifiers.mailtext import html_to_text
from gateway.attachments.archives import (
    ArchiveBounds,
    Member,
    archive_format,
    inspect_archive,
    read_members,
)
from gateway.message import Part, decode_text

# the members holding a document's text, by true type (a spreadsheet's cells: its shared
# strings; a PowerPoint deck: a member per slide; an OpenDocument: content.xml)
BODIES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
        re.compile(r"word/document\.xml"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        re.compile(r"xl/sharedStrings\.xml"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation":
        re.compile(r"ppt/slides/slide\d+\.xml"),
    "application/vnd.oasis.opendocument.text": re.compile(r"content\.xml"),
    "application/vnd.oasis.opendocument.spreadsheet": re.compile(r"content\.xml"),
    "application/vnd.oasis.opendocument.presentation": re.compile(r"content\.xml"),
}
_UTF8_MOST = 4          # bytes a character, at most: the bytes worth reading for n characters
# Markup this many times the text it holds is read at most: an XML body is mostly tags.
_XML_PER_CHAR = 8
_LINE_END = re.compile(r"</w:p>|<w:br\b[^>]*>|<w:cr\b[^>]*>|</si>|</a:p>|<a:br\b[^>]*>|"
                       r"</text:p>|</text:h>|<text:line-break\b[^>]*>")
_GAP = re.compile(r"<w:tab\b[^>]*>|<text:tab\b[^>]*>|<text:s\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")


def readable_parts(part: Part, max_chars: int) -> tuple[list[Part], int]:
    """The parts of an attachment that show text: itself if it is `readable`, else, if it
    is an archive, its `readable` members (nested archives walked too) as parts labelled
    by their path in it, a text member cut to what `max_chars` could use. Also: how many
    bytes were left unread (cut off, or in an archive that is encrypted, broken or past
    the attachment check's own bounds, which that check reports as well)."""
    if readable(part):
        return [part], 0
    if archive_format(part.payload) is None:
        return [], 0
    found: list[Part] = []
    documents: set[str] = set()
    take = _UTF8_MOST * max_chars
    cut = 0

    def keep(member: Member) -> None:
        nonlocal cut
        # A document's own parts are read through the document (a .docx is a zip too,
        # and the walk goes into it). Which members those are is decided by the
        # document's true type, not by the zip's listing: a zip that only lists a
        # [Content_Types].xml must not hide its text files.
        if member.data is None or member.archive in documents:
            return
        inner = Part(f"{part.path}:{member.path}", "", member.path, None, member.data,
                     part.depth + member.depth)
        if not readable(inner):
            return
        if inner.true_type in BODIES:
            documents.add(member.path)
        elif inner.size > take:                 # keep no more than can be read
            cut += inner.size - take
            inner.payload = inner.payload[:take]
        found.append(inner)

    # the attachment check's bounds: what it opens is read here, and what it cannot open
    # it reports itself (a zip of holiday photos is not refused for its size here)
    report = inspect_archive(part.payload, part.filename or part.path, ArchiveBounds(),
                             on_member=keep)
    return found, cut + (part.size if report.problems else 0)


def readable(part: Part) -> bool:
    """Does this attachment show its reader text that `shown_text` can read?"""
    return part.true_type.startswith("text/") or part.true_type in BODIES


def shown_text(part: Part, max_chars: int) -> tuple[str, int]:
    """(the text a `readable` attachment shows, reading about `max_chars` at most; how
    many of its bytes were left unread)."""
    if part.true_type.startswith("text/"):
        take = _UTF8_MOST * max_chars
        text = decode_text(part.payload[:take], part.charset)
        if part.true_type == "text/html" or part.declared_type == "text/html":
            text = "\n".join(t for t in html_to_text(text) if t)
        elif part.true_type == "text/xml":      # an e-book's pages, an export: its words
            text = html.unescape(_TAG.sub(" ", text))
        return text, max(0, part.size - take)
    limit = _XML_PER_CHAR * _UTF8_MOST * max_chars
    members = read_members(part.payload, BODIES[part.true_type].fullmatch,
                           ArchiveBounds(max_member_bytes=limit, max_total_bytes=limit))
    if not members:         # missing, encrypted, broken or over the bound: not read
        return "", part.size
    # slides in their order (slide2 before slide10), whatever the zip's
    members.sort(key=lambda m: [int(d) for d in re.findall(r"\d+", m[0])])
    return "\n".join(document_text(xml.decode("utf-8", errors="replace"))
                     for _, xml in members), 0


def document_text(xml: str) -> str:
    """A Word or OpenDocument body's text (a spreadsheet's strings): a line per paragraph
    or cell, runs joined as shown."""
    xml = _GAP.sub(" ", _LINE_END.sub("\n", xml))
    return html.unescape(_TAG.sub("", xml))
