"""Store URLs shown to people: the one place their secrets are hidden.

Every message that names a store URL (a configuration error, a log line, the
service's start line) passes it through :func:`redact` first, so a password in
``redis://:secret@host`` or ``?password=secret`` never reaches a log or a terminal.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = ["SECRET_PARAMETERS", "redact"]

#: Query parameters whose values are secrets (redis-py accepts ``?password=``, for one).
SECRET_PARAMETERS: Final = frozenset(
    {"password", "pass", "passwd", "pwd", "secret", "token", "auth", "sentinel_password"}
)
_QUERY_SECRET = re.compile(
    r"(?i)(^|[&;])(" + "|".join(sorted(SECRET_PARAMETERS)) + r")=[^&;#]*",
)
_USERINFO = re.compile(r"(//)[^/?#]*@")
HIDDEN: Final = "***"


def redact(url: str) -> str:
    """Hide the password of a URL and any password-like query value, for display.

    ``redis://user:secret@host/0?password=x`` becomes
    ``redis://user:***@host/0?password=***``; a URL without secrets is returned
    unchanged, and a string that does not parse loses everything before an ``@``
    after ``//``.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL (a bad IPv6 literal): hide any user information wholesale
        return _QUERY_SECRET.sub(rf"\1\2={HIDDEN}", _USERINFO.sub(rf"\1{HIDDEN}@", url))
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hosts = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{HIDDEN}@{hosts}"
    query = _QUERY_SECRET.sub(rf"\1\2={HIDDEN}", parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))
