"""Keep secrets out of messages, logs, reports, lineage and hashes.

One owner for "what is a secret and how it is hidden": database URLs (the
password in the user part, ``?password=`` and friends in the query, and
ODBC connection strings in ``odbc_connect``), ``key=value`` pairs in free
text, and mapping keys that name a secret. Every place that echoes user input
or records configuration goes through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "is_secret_key", "redact", "redact_text", "redact_url", "summarize"]

MASK = "***"

# names (lower case, without _ or -) whose values are secrets wherever they appear
_SECRET_NAMES = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "sslpassword",
    "odbcconnect",
    "tokensha256",
    "hmackey",
    "signingkey",
    "artifactkey",
)

# scheme://user:password@host -> scheme://user:***@host
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*):(?P<pw>[^\s@/'\"]*)@")
# password=..., PWD=...; token: ..., in query strings, ODBC strings and prose
_PAIR = re.compile(
    r"(?P<key>\b[A-Za-z_\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key"
    r"|private[_\-]?key|odbc_connect|credentials?)\b[\"']?)(?P<sep>\s*[=:]\s*)(?P<value>\"[^\"]*\""
    r"|'[^']*'|[^\s;&,'\")}\]]+)",
    re.IGNORECASE,
)


def is_secret_key(name: str) -> bool:
    """Return True when a mapping key or query parameter names a secret."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return any(flat == s or flat.endswith(s) for s in _SECRET_NAMES)


def redact_text(text: str) -> str:
    """Return ``text`` with URL passwords and ``secret=value`` pairs masked."""
    text = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _PAIR.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)


def redact_url(url: str) -> str:
    """Return a URL with its password, secret query parameters and ODBC string masked.

    ``postgresql+psycopg://u:pw@h/db?sslpassword=x&odbc_connect=...`` becomes
    ``postgresql+psycopg://u:***@h/db?sslpassword=***&odbc_connect=***``. A
    string that is not a URL is redacted as free text.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.scheme or (not parts.netloc and not parts.query):
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if is_secret_key(k) else redact_text(unquote(v))) for k, v in pairs],
            safe="*",
            quote_via=quote,
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with every secret masked.

    Mapping entries whose key names a secret become ``"***"``; strings that
    look like URLs are passed through :func:`redact_url`, other strings
    through :func:`redact_text`. Use it on configs before they are echoed,
    recorded in lineage or hashed.
    """
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_secret_key(k) and v else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return redact_url(value) if "://" in value else redact_text(value)
    return value


def summarize(value: Any, limit: int = 80) -> str:
    """Return a short, redacted ``repr`` of user input for an error message.

    A mapping shows its keys only (values may hold secrets or be huge), a
    sequence its length, a string at most ``limit`` characters.
    """
    if isinstance(value, Mapping):
        keys = ", ".join(repr(str(k))[:40] for k in list(value)[:8])
        more = ", ..." if len(value) > 8 else ""
        return f"a mapping with keys [{keys}{more}]"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    text = repr(redact(value)) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
