"""RFC 8601 Authentication-Results: writing ours, and recognising forged ones.

`authserv_id_of(value)` reads the authserv-id of an existing header (comments and
folding allowed); `claims(value, ours)` tells whether an incoming header claims to be
from this gateway, which RFC 8601 section 5 says must be removed before ours is added.
"""

from __future__ import annotations

import re

_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_TOKEN_SPECIALS = set('()<>@,;:\\"/[]?= \t')


def _strip_comments(value: str) -> str:
    previous = None
    while previous != value:           # nested comments, innermost first
        previous = value
        value = _COMMENT.sub(" ", value)
    return value


def authserv_id_of(value: str) -> str:
    text = _strip_comments(value.replace("\r", " ").replace("\n", " ")).strip()
    first = text.split(";", 1)[0].strip()
    token = first.split()[0] if first.split() else ""
    if token.startswith('"') and token.endswith('"') and len(token) > 1:
        token = token[1:-1]
    return token.lower().rstrip(".")


def claims(value: str, authserv_id: str) -> bool:
    return authserv_id_of(value) == authserv_id.lower().rstrip(".")


def quote(value: str) -> str:
    """A property value as a token if it can be one, else as a quoted-string."""
    if value and not any(c in _TOKEN_SPECIALS or ord(c) < 33 or ord(c) > 126
                         for c in value.replace("@", "").replace(".", "")):
        # local-part@domain and dotted names are allowed as pvalue (RFC 8601 2.2)
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    text = re.sub(r"[\r\n\t]+", " ", text)
    return f" ({text[:120]})" if text else ""


class ResultsHeader:
    def __init__(self, authserv_id: str) -> None:
        self.authserv_id = authserv_id
        self.results: list[str] = []

    def add(self, method: str, result: str, comment: str = "", reason: str = "",
            **props: str) -> ResultsHeader:
        """`props` keys are "ptype_property" (smtp_mailfrom -> smtp.mailfrom)."""
        text = f"{method}={result}{_comment(comment)}"
        if reason:
            text += f" reason={quote(reason[:120])}"
        for key, value in props.items():
            if value:
                ptype, _, prop = key.partition("_")
                text += f" {ptype}.{prop.replace('_', '-')}={quote(value)}"
        self.results.append(text)
        return self

    def value(self) -> str:
        if not self.results:
            return f"{self.authserv_id}; none"
        line = f"{self.authserv_id}; " + "; ".join(self.results)
        if len(line) < 900:
            return line
        # Folded (CRLF + tab) only when one line would come near RFC 5322's 998 limit.
        return f"{self.authserv_id};\r\n\t" + ";\r\n\t".join(self.results)
