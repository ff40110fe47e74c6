"""Reading the parts of an HTTP/1.1 answer strictly: status line, fields, lengths, chunk sizes.

Every function refuses what RFC 9112 does not allow instead of guessing, since a
lenient guess is how one answer gets read as another's.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "MAX_HEAD",
    "MAX_LINE",
    "AnswerTooLarge",
    "Closed",
    "Malformed",
    "chunk_size",
    "content_length",
    "fields",
    "status_line",
    "tokens",
]

#: The longest status line plus headers (or chunk trailers), and one chunk-size line.
MAX_HEAD: Final = 65536
MAX_LINE: Final = 4096
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
# A name (which holds no colon), a colon, text: one way to match a line, so linear time
# whatever a peer sends (the blanks around the value are stripped after the match).
_FIELD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):([\t\x20-\x7e\x80-\xff]*)")
_DIGITS = re.compile(r"[0-9]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?")


class Closed(ConnectionError):
    """The service closed the connection before the answer was complete."""


class Malformed(ValueError):
    """The answer is not well-formed HTTP/1.1."""


class AnswerTooLarge(Malformed):
    """The answer is over the transport's size cap."""


def status_line(line: bytes) -> tuple[bytes, int]:
    """Return the minor version (``b"1"`` or ``b"0"``) and status of a status line."""
    matched = _STATUS.fullmatch(line)
    if matched is None:
        raise Malformed(f"status line {line[:80]!r}")
    return matched[1], int(matched[2])


def chunk_size(line: bytes) -> int:
    """Return the size a chunk-size line announces (hex digits, optional extensions)."""
    matched = _CHUNK_SIZE.fullmatch(line)
    if matched is None:
        raise Malformed(f"chunk size line {line[:80]!r}")
    return int(matched[1], 16)


def fields(lines: list[bytes]) -> dict[str, str]:
    """Return header lines as a dict: names lower-cased, repeated values joined by commas."""
    headers: dict[str, str] = {}
    for line in lines:
        matched = _FIELD.fullmatch(line)
        if matched is None:
            raise Malformed(f"header line {line[:80]!r}")
        name, value = matched[1].decode("ascii").lower(), matched[2].strip(b" \t").decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def tokens(value: str) -> set[str]:
    """Return the lower-cased tokens of a comma-separated header value."""
    return {token.strip().lower() for token in value.split(",")}


def content_length(value: str, cap: int) -> int:
    """Read a Content-Length: digits only; a repeated header must repeat the same number."""
    if value.isascii() and value.isdigit() and len(value) < 19 and int(value) <= cap:
        return int(value)  # the usual case, checked without a regex
    values = {part.strip() for part in value.split(",")}
    if len(values) != 1 or not _DIGITS.fullmatch(number := values.pop()):
        raise Malformed(f"Content-Length {value[:40]!r}")
    if len(number) > 18 or int(number) > cap:
        raise AnswerTooLarge(f"the answer announces {number} bytes, over {cap}")
    return int(number)
