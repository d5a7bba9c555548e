"""Appendix II factors that aupgate can fill in from what it knows about a message."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store.models import HeldMessage
from quarantine.web.appendix import appendix_i, content_kinds
from quarantine.web.queries import earlier_incidents, people
from quarantine.web.render import looks_forwarded


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


async def prefill(session: AsyncSession, held: HeldMessage, local_domains: tuple[str, ...]
                  ) -> dict[str, str]:
    sender = (held.mail_from or "").lower()
    rcpts = [r.lower() for r in held.rcpt_tos]
    known = await people(session, [sender, *rcpts])

    def kind(address: str) -> str:
        p = known.get(address)
        if p is not None:
            return p.role
        if _domain(address) in local_domains:
            return "trust address, not in the directory"
        return "external"

    kinds: dict[str, list[str]] = {}
    for r in rcpts:
        kinds.setdefault(kind(r), []).append(r)
    recipients = f"{len(rcpts)} recipient{'s' if len(rcpts) != 1 else ''}: " + "; ".join(
        f"{len(v)} {k} ({', '.join(v[:10])}{' …' if len(v) > 10 else ''})"
        for k, v in sorted(kinds.items()))

    outside = kinds.get("external", [])
    sender_outside = kind(sender) == "external" if sender else False
    if outside or sender_outside:
        bits = []
        if outside:
            bits.append(f"sent to {len(outside)} address(es) outside the trust: "
                        f"{', '.join(outside[:10])}")
        if sender_outside:
            bits.append(f"the sender {sender} is outside the trust")
        external = "Yes: " + "; ".join(bits) + "."
    else:
        external = "No: the sender and every recipient are inside the trust."

    forwarded = looks_forwarded(held.raw, held.subject)
    instigator = ("The sender forwarded this material (a forward of someone else's message)."
                  if forwarded else "The sender appears to have originated this message "
                                    "(not a forward).")

    incidents = await earlier_incidents(session, held)
    if incidents.held or incidents.traced:
        lines = [f"{len(incidents.held)} earlier held message(s) from {sender}"]
        for when, category, severity, subject in incidents.held[:5]:
            lines.append(f"  {when:%d %b %Y}: {category}{' / ' + severity if severity else ''}"
                         f" — {(subject or '')[:80]}")
        if incidents.traced:
            lines.append("earlier decisions on mail from this sender: " + ", ".join(
                f"{n} {v}" for v, n in sorted(incidents.traced.items())))
        history = "\n".join(lines)
    else:
        history = f"No earlier incidents recorded for {sender or 'this sender'}."

    person = known.get(sender)
    if person is not None:
        groups = ", ".join(m.group_name for m in person.groups) or "none"
        seniority = (f"{person.name or sender}: {person.role} in the directory "
                     f"(groups: {groups}).")
    else:
        seniority = f"{sender or 'The sender'} is not in the trust's directory."

    a1 = appendix_i(held.severity)
    kinds_named = content_kinds(held.findings)
    policies = [f"Appendix I: {a1.term}" + (f" ({', '.join(kinds_named)})" if kinds_named
                                             else "") + f"; rating {a1.rating}."]
    codes = sorted({f.get("code", "") for f in held.findings if f.get("score")})
    if codes:
        policies.append("Findings: " + ", ".join(codes) + ".")
    if held.reasons:
        policies.append("Decisions: " + "; ".join(str(r) for r in held.reasons[:5]) + ".")

    return {"seniority": seniority, "realisation": "", "behaviour_change": history,
            "coercion": "", "instigator": instigator, "recipients": recipients,
            "policies": "\n".join(policies), "environment": "", "external_contact": external}
