"""The content check: Appendix I scores for what the sender wrote, plus time, volume
and capacity.

What is scored. The subject and text parts are split (`classifiers.mailtext`) into
the sender's own words, text they forwarded, and text they quoted from the message
they replied to. Own words and forwarded text are the sender's responsibility and are
scored as `content.<severity>.<kind>` findings (`content.gross.racist`,
`content.serious.bad_language`, `content.mild.chain_letter`); the detail names the
kind, the part (own words / forwarded) and the words that drove the score. Quoted text
is not blamed on the replier: if it is offensive it is reported as an INFO finding
`content.quoted.<severity>` with score 0 (the policy still holds it for a pupil: anyone
can write "> "). Attachments a reader sees as text (text files, Word and OpenDocument
bodies: `gateway.attachments.text`) are scored as "attached text". Text is read in
pieces of `max_chars`, up to `max_scored_chars` a message; what lies beyond is reported
as `content.unscored`, never passed over in silence.

Pupils stricter than staff — both ways, documented here:
1. Thresholds (this module's Settings): a finding is emitted when the cumulative
   probability P(severity >= level) reaches the threshold of a recipient's audience
   (pupil < staff <= external by default). The text is classified once; each audience
   among the recipients is judged at its own thresholds, and a finding only some
   audiences get names their recipients. The finding's data records the audience.
2. Actions (config/policy.toml): gross is quarantined and alerted for everyone; serious
   is quarantined for pupils and escalated for staff; mild is tagged.

Time, volume, capacity (Appendix I grades every term by them) are INFO findings with
score 0: `content.capacity` (message and attachment sizes), `content.volume` (recipient
count, forward count) and `content.time` (inside or outside the working hours below).

The classifier, and the reading of attachments before it, run in-process with
`asyncio.to_thread`, so they never stall the loop.
The model file and its card are checked when the check is built: a model whose card or
hash does not match stops the gateway at start with a one-line error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from classifiers.inference import Classifier, Result
from classifiers.mailtext import MailText, from_parts
from classifiers.modelfile import DEFAULT_MODEL, ModelFileError
from classifiers.taxonomy import KIND_BY_CODE, SEVERITIES, finding_code
from classifiers.watch import ModelWatcher
from gateway.attachments.text import readable_parts, shown_text
from gateway.config import ConfigError
from gateway.findings import Finding, Severity

if TYPE_CHECKING:
    from gateway.envelope import Envelope
    from gateway.message import Message

NAME = "content"

_LEVELS = ("mild", "serious", "gross")
_FINDING_SEVERITY = {"gross": Severity.HIGH, "serious": Severity.MEDIUM, "mild": Severity.LOW}


class Levels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mild: float = Field(0.5, gt=0, le=1)
    serious: float = Field(0.5, gt=0, le=1)
    gross: float = Field(0.5, gt=0, le=1)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    model: str = ""                      # "" = models/appendix1.skops in the project
    # Probability thresholds per audience (lower = stricter).
    # Defaults match classifiers.evaluate.HOLD_THRESHOLDS, whose clean-mail hold rate
    # the model card reports.
    pupil: Levels = Levels(mild=0.5, serious=0.7, gross=0.7)
    staff: Levels = Levels(mild=0.6, serious=0.8, gross=0.8)
    external: Levels = Levels(mild=0.6, serious=0.8, gross=0.8)
    # Finding score at probability 1 (the policy's thresholds add scores up).
    score_gross: float = Field(10.0, ge=0)
    score_serious: float = Field(5.0, ge=0)
    score_mild: float = Field(1.0, ge=0)
    # Kinds reported besides the top one, when at least this likely.
    extra_kind_probability: float = Field(0.5, gt=0, le=1)
    # Text is scored in pieces of at most max_chars (own words, forwarded, quoted and each
    # text attachment apart), at most max_scored_chars in all: what is beyond that is not
    # read, and a `content.unscored` finding says how much, so it is never a silent pass.
    max_chars: int = Field(20_000, ge=100)
    max_scored_chars: int = Field(200_000, ge=100)
    # Time: working hours in the trust's time zone.
    timezone: str = "Europe/London"
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Mon=0
    working_hours_start: str = "08:00"
    working_hours_end: str = "18:00"
    # Capacity / volume: mentioned in the INFO findings' detail when exceeded.
    large_message_bytes: int = Field(10 * 1024 * 1024, ge=1)
    many_recipients: int = Field(20, ge=1)

    @property
    def lowest_threshold(self) -> float:
        """No finding names a kind under this: the classifier need not work kinds out."""
        return min(min(levels.mild, levels.serious, levels.gross)
                   for levels in (self.pupil, self.staff, self.external))

    @model_validator(mode="after")
    def _pieces_fit(self) -> Settings:
        if self.max_scored_chars < self.max_chars:
            raise ValueError("max_scored_chars must be at least max_chars")
        return self

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception:  # noqa: BLE001
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("working_hours_start", "working_hours_end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        try:
            dt.time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not HH:MM") from None
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(d not in range(7) for d in value):
            raise ValueError("working days are 0 (Monday) to 6 (Sunday)")
        return value


def piece_end(text: str, start: int, size: int) -> int:
    """Where the piece of `text` from `start` ends: at most `size` characters on, at a line
    break or a space in the piece's second half where there is one, so no word is split."""
    if len(text) - start <= size:
        return len(text)
    lo, hi = start + size // 2, start + size
    at = max(text.rfind("\n", lo, hi), text.rfind(" ", lo, hi))
    return at if at > start else hi


def attached_text(message: Message, max_chars: int) -> tuple[list[tuple[str, str]], int]:
    """(where, text) of each attachment its reader sees as text (a .txt or .html file, a
    Word or OpenDocument body, alone or in an archive: `gateway.attachments.text`), about
    `max_chars` read in all; and how many bytes were left unread."""
    out, unread = [], 0
    for attachment in message.attachments:
        parts, unopened = readable_parts(attachment, max_chars)
        unread += unopened
        for part in parts:
            if max_chars <= 0:
                unread += part.size
                continue
            text, left = shown_text(part, max_chars)
            unread += left
            max_chars -= len(text)
            out.append((f"attached text ({part.filename or part.path})", text))
    return out, unread


def build(settings: Settings, services: Any) -> ContentCheck | None:
    if not settings.enabled:
        return None
    path = settings.model or None
    if path and services is not None and hasattr(services, "config"):
        path = str(services.config.resolve(path))
    try:
        classifier = Classifier.load(path)
    except ModelFileError as e:
        raise ConfigError(f"gateway.toml: checks.content.model: {e}") from None
    check = ContentCheck(settings, classifier)
    # `aupgate model retrain` / `rollback` replace the file: take the new model between
    # messages (classifiers.watch), without a restart or a dropped connection.
    check.watcher = ModelWatcher(path or DEFAULT_MODEL, classifier, Classifier.load)
    return check


class ContentCheck:
    name = NAME

    def __init__(self, settings: Settings, classifier: Classifier) -> None:
        self.settings = settings
        self.classifier = classifier
        self.watcher: ModelWatcher | None = None

    # -- thresholds ------------------------------------------------------------

    def thresholds_for(self, envelope: Envelope) -> tuple[str, Levels]:
        audiences = {r.audience.value for r in envelope.recipients} or {"external"}
        candidates = [(a, getattr(self.settings, a)) for a in ("pupil", "staff", "external")
                      if a in audiences]
        return min(candidates, key=lambda c: (c[1].serious, c[1].gross, c[1].mild))

    # -- the check ---------------------------------------------------------------

    async def run(self, message: Message, envelope: Envelope) -> list[Finding]:
        parts = [(t.kind, t.text) for t in message.text_parts]
        mail = from_parts(message.subject, parts)
        if self.watcher is not None:   # one model for the whole message
            self.classifier = self.watcher.current()
        # reading attachments (archives decompressed, documents unzipped) and scoring
        # both block: off the event loop, as the classifier always was
        scored, unscored, unread = await asyncio.to_thread(
            self._read_and_classify, mail, message, self.classifier)
        findings = self._per_audience(scored, envelope, self.classifier)
        if unscored or unread:
            findings.append(self._unscored(unscored, unread))
        findings.extend(self._time_volume_capacity(message, envelope, mail))
        return findings

    def _unscored(self, chars: int, unread_bytes: int) -> Finding:
        """What was not checked: characters of text beyond what is read, and bytes of
        attachments not read at all (encrypted, broken or cut off): two units, said apart."""
        said = []
        if chars:
            said.append(f"{chars} characters of text (the content check reads the first "
                        f"{self.settings.max_scored_chars} of a message)")
        if unread_bytes:
            said.append(f"{unread_bytes} bytes of attachments it could not read as text "
                        "(encrypted, broken or too long)")
        return Finding("content.unscored", Severity.LOW, 0.0,
                       f"Not checked: {' and '.join(said)}",
                       {"unscored_chars": chars, "unread_attachment_bytes": unread_bytes,
                        "max_scored_chars": self.settings.max_scored_chars})

    def _pieces(self, mail: MailText, message: Message
                ) -> tuple[list[tuple[str, str]], int, int]:
        """(where, text) pieces to score, own words first; how many characters of text are
        left unscored beyond max_scored_chars; how many bytes of attachments were not read."""
        room = self.settings.max_scored_chars
        sections = [("own words", mail.own), ("forwarded text", mail.forwarded),
                    ("quoted text", mail.quoted)]
        # attachments are read only as far as the message's own text leaves room
        attached, unread = attached_text(
            message, max(0, room - sum(len(text) for _, text in sections)))
        sections += attached
        out: list[tuple[str, str]] = []
        unscored = 0
        for where, text in sections:
            start = 0
            while start < len(text):
                end = piece_end(text, start, self.settings.max_chars)
                if end - start > room:
                    break
                if not text[start:end].isspace():
                    out.append((where, text[start:end]))
                room -= end - start
                start = end
            unscored += len(text) - start
        return out, unscored, unread

    def _read_and_classify(self, mail: MailText, message: Message, classifier: Classifier
                           ) -> tuple[list[tuple[str, Result]], int, int]:
        """(where, result) for each piece, classified at once; the characters unscored and
        the attachment bytes unread."""
        pieces, unscored, unread = self._pieces(mail, message)
        if not pieces:
            return [], unscored, unread
        results = classifier.score([t for _, t in pieces], explain=True,
                                   kinds_from=self.settings.lowest_threshold)
        return ([(where, r) for (where, _), r in zip(pieces, results, strict=True)],
                unscored, unread)

    def _per_audience(self, scored: list[tuple[str, Result]], envelope: Envelope,
                      classifier: Classifier) -> list[Finding]:
        """Findings at each recipient audience's own thresholds: a staff member copied on
        a pupil's mail is not judged by the pupil's stricter ones. A finding every
        audience gets concerns the whole message; otherwise only that audience's recipients."""
        groups: dict[str, list[str]] = {}
        for r in envelope.recipients:
            groups.setdefault(r.audience.value, []).append(r.address.lower())
        if not groups:
            groups = {"external": []}
        per = {aud: self._score(scored, aud, getattr(self.settings, aud), classifier)
               for aud in groups}
        everywhere = set.intersection(*({f.code for f in fs} for fs in per.values()))
        out: dict[str, Finding] = {}
        for aud, found in per.items():
            for f in found:
                if f.code in everywhere:
                    if f.code not in out or f.score > out[f.code].score:
                        out[f.code] = f
                else:
                    out[f"{aud}:{f.code}"] = replace(f, recipients=tuple(groups[aud]))
        return list(out.values())

    def _score(self, scored: list[tuple[str, Result]], audience: str, levels: Levels,
               classifier: Classifier) -> list[Finding]:
        findings: dict[str, Finding] = {}
        out: list[Finding] = []
        for where, result in scored:
            level = self._level(result, levels)
            if level is None:
                continue
            if where == "quoted text":
                out.append(Finding(
                    f"content.quoted.{level}", Severity.INFO, 0.0,
                    f"Text quoted from the message replied to reads as {level} "
                    f"({self._kind_names(result, level)}); it is not attributed to the sender",
                    {"part": where, "probability": round(result.at_least[level], 3),
                     "words": result.evidence}))
                continue
            for finding in self._findings(result, level, where, audience, classifier):
                prev = findings.get(finding.code)
                if prev is None or finding.score > prev.score:
                    findings[finding.code] = finding
        return list(findings.values()) + out

    def _level(self, result: Result, levels: Levels) -> str | None:
        level = None
        for name in _LEVELS:
            if result.at_least[name] >= getattr(levels, name):
                level = name
        return level

    def _kind_names(self, result: Result, level: str) -> str:
        kinds = self._kinds_at(result, level)
        return ", ".join(KIND_BY_CODE[k].label for k, _ in kinds)

    def _kinds_at(self, result: Result, level: str) -> list[tuple[str, float]]:
        ranked = sorted(((k, p) for k, p in result.kinds.items()
                         if KIND_BY_CODE[k].severity == level), key=lambda kv: -kv[1])
        top = ranked[:1] + [kv for kv in ranked[1:]
                            if kv[1] >= self.settings.extra_kind_probability]
        return top

    def _findings(self, result: Result, level: str, where: str, audience: str,
                  classifier: Classifier) -> list[Finding]:
        prob = result.at_least[level]
        base = getattr(self.settings, f"score_{level}")
        out = []
        for kind, kind_prob in self._kinds_at(result, level):
            label = KIND_BY_CODE[kind].label
            words = ", ".join(f"'{w}'" for w in result.evidence) or "the text as a whole"
            out.append(Finding(
                finding_code(level, kind), _FINDING_SEVERITY[level], round(base * prob, 3),
                f"Appendix I {level}: {label} in the {where} "
                f"(p={prob:.2f}, kind p={kind_prob:.2f}); driven by {words}",
                {"severity": level, "kind": kind, "probability": round(prob, 4),
                 "kind_probability": round(kind_prob, 4), "part": where,
                 "words": result.evidence, "thresholds_audience": audience,
                 "severities": {s: round(result.severities[s], 4) for s in SEVERITIES},
                 "model": classifier.version}))
        return out

    # -- time, volume, capacity ---------------------------------------------------

    def _time_volume_capacity(self, message: Message, envelope: Envelope,
                              mail: MailText) -> list[Finding]:
        s = self.settings
        size = len(message.raw)
        attachments = [{"name": a.filename or a.path, "bytes": a.size}
                       for a in message.attachments]
        capacity = Finding(
            "content.capacity", Severity.INFO, 0.0,
            f"Message {size} bytes, {len(attachments)} attachment(s) of "
            f"{sum(a['bytes'] for a in attachments)} bytes"
            + (" (large)" if size >= s.large_message_bytes else ""),
            {"message_bytes": size, "attachments": attachments,
             "large": size >= s.large_message_bytes})
        n_rcpt = len(envelope.recipients)
        volume = Finding(
            "content.volume", Severity.INFO, 0.0,
            f"{n_rcpt} recipient(s), forwarded {mail.forwards} time(s)"
            + (" (many recipients)" if n_rcpt >= s.many_recipients else ""),
            {"recipients": n_rcpt, "forwards": mail.forwards,
             "many_recipients": n_rcpt >= s.many_recipients})
        when = envelope.received_at
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        local = when.astimezone(ZoneInfo(s.timezone))
        start = dt.time.fromisoformat(s.working_hours_start)
        end = dt.time.fromisoformat(s.working_hours_end)
        inside = local.weekday() in s.working_days and start <= local.time() < end
        time_f = Finding(
            "content.time", Severity.INFO, 0.0,
            f"Sent {local:%a %H:%M} {s.timezone}, "
            f"{'inside' if inside else 'outside'} working hours "
            f"({s.working_hours_start}-{s.working_hours_end})",
            {"local_time": local.isoformat(timespec="minutes"), "working_hours": inside})
        return [capacity, volume, time_f]
