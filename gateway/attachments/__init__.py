"""Dangerous attachments: the pieces the `attachments` check is built from.

One concern per module:

- `filetypes` — banned kinds by true type and extension, declared-vs-true mismatches,
  double extensions and bidi (RTLO) tricks in filenames;
- `archives` — zip, 7z and rar members listed and read into memory within bounds
  (members, total size, ratio, depth); encrypted and bomb archives are findings;
- `macros` — VBA in OOXML (`vbaProject.bin`) and OLE documents, via oletools;
- `clamav` — a small asyncio client of clamd's INSTREAM protocol.
- `text` — the text an attachment shows its reader (text files, Word and OpenDocument
  bodies), for the content check.

Nothing here writes a member to disk under its own name, and nothing runs what it reads.
"""
