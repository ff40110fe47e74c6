"""Reading a request's key, TTL, page size and preconditions, refusing bad ones with 4xx."""

from __future__ import annotations

import math
import re
from typing import Final, Literal

from flask import request
from werkzeug.exceptions import BadRequest, PreconditionFailed, RequestEntityTooLarge

from ..errors import Conflict
from ..stores import ABSENT, Absent, Record, Version
from ..wire.codec import etag_to_version, version_to_etag
from .state import state

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "MAX_TTL",
    "TTL_HEADER",
    "check_key",
    "conditional_delete",
    "direct_condition",
    "not_at_version",
    "parse_ttl",
    "scan_limit",
    "too_large",
    "too_large_post",
    "ttl_param",
    "write_condition",
]

#: The header that may carry a TTL instead of ``?ttl=``.
TTL_HEADER: Final = "KV-TTL"
#: The most keys one listing page holds, whatever ``limit`` asks for.
MAX_PAGE: Final = 1000
#: The keys a listing holds when no ``limit`` is given (a ``next`` cursor says there are more).
DEFAULT_PAGE: Final = 1000
#: The longest TTL accepted, in seconds (about 31 years); longer is a client error.
MAX_TTL: Final = 1e9
_ONE_STRONG_ETAG = re.compile(r'"([^"]*)"')
#: How often an unconditional DELETE re-reads a key that keeps changing under it.
DELETE_ATTEMPTS: Final = 8


def too_large(what: str, size: int, limit: int) -> RequestEntityTooLarge:
    """Build the 413 that names what was too large and by how much."""
    return RequestEntityTooLarge(f"{what} is {size} bytes, over the {limit}-byte limit")


def too_large_post(keys: int, limit: int) -> RequestEntityTooLarge:
    """Build the 413 of a POST that sets more keys than one request may."""
    return RequestEntityTooLarge(
        f"the body sets {keys} keys, over the {limit}-key limit of one POST: send several"
    )


def not_at_version(key: str) -> PreconditionFailed:
    """Build the 412 of a write or delete whose ``If-Match`` names another version."""
    return PreconditionFailed(f"{key!r} is not at the expected version")


def check_key(key: str, limit: int | None = None) -> None:
    """Refuse an empty key, one that is not valid Unicode, or one over ``limit`` bytes.

    ``limit`` defaults to the current app's key limit.
    """
    if not key:
        raise BadRequest("keys must not be empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise BadRequest("keys must be valid Unicode (no lone surrogates)") from exc
    if limit is None:
        limit = state().limits.max_key_bytes
    if size > limit:
        raise too_large("the key", size, limit)


def ttl_param() -> float | None:
    """Return the TTL in seconds from ``?ttl=`` or the ``KV-TTL`` header, or None (no expiry)."""
    return parse_ttl(request.args.get("ttl"), request.headers.get(TTL_HEADER))


def parse_ttl(query: str | None, header: str | None) -> float | None:
    """Return the TTL that ``?ttl=`` and the ``KV-TTL`` header give (either, or both alike)."""
    if query is not None and header is not None and query != header:
        raise BadRequest(f"?ttl= and the {TTL_HEADER} header disagree")
    raw = query if query is not None else header
    if raw is None:
        return None
    try:
        ttl = float(raw)
    except ValueError as exc:
        raise BadRequest(f"ttl must be a number of seconds, got {raw!r}") from exc
    if not (math.isfinite(ttl) and 0 < ttl <= MAX_TTL):
        raise BadRequest(f"ttl must be positive seconds up to {MAX_TTL:.0f}, got {raw!r}")
    return ttl


def scan_limit(max_page: int) -> int:
    """Return ``?limit=`` as a page size, at least 1 and at most ``max_page``."""
    raw = request.args["limit"]
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadRequest(f"limit must be an integer, got {raw!r}") from exc
    if limit < 1:
        raise BadRequest(f"limit must be at least 1, got {limit}")
    return min(limit, max_page)


def direct_condition(
    if_match: str | None, if_none_match: str | None
) -> Version | Absent | Literal[False] | None:
    """Map the common precondition headers straight onto a store ``if_version``.

    No header gives None, one strong ETag in ``If-Match`` its version, a lone
    ``If-None-Match: *`` :data:`ABSENT`; any other form gives False: it needs
    :func:`write_condition`'s check against a read.
    """
    if if_match is None:
        return None if if_none_match is None else (ABSENT if if_none_match == "*" else False)
    single = _ONE_STRONG_ETAG.fullmatch(if_match.strip())
    if single is not None and if_none_match is None:
        return etag_to_version(single[1])
    return False


def write_condition(key: str) -> Version | Absent | None:
    """Turn ``If-Match`` / ``If-None-Match`` into a store ``if_version``, or raise 412.

    The common forms map straight onto the store's compare-and-set: one strong
    ETag, or ``If-None-Match: *``. Other forms (lists, ``If-Match: *``) are
    checked against a read, then written at the version that was read.
    """
    has_match = "If-Match" in request.headers
    has_none_match = "If-None-Match" in request.headers
    direct = direct_condition(request.headers.get("If-Match"), request.headers.get("If-None-Match"))
    if direct is not False:
        return direct
    if_match, if_none_match = request.if_match, request.if_none_match
    if has_none_match and not has_match and if_none_match.star_tag:
        return ABSENT
    record = state().store.get(key)
    tag = None if record is None else version_to_etag(record.version)[1:-1]
    passed = True
    if has_match:
        passed = tag is not None and if_match.contains(tag)
    if has_none_match and tag is not None and if_none_match.contains_weak(tag):
        passed = False
    if not passed:
        raise PreconditionFailed(f"the preconditions on {key!r} do not hold")
    return ABSENT if record is None else record.version


def conditional_delete(key: str) -> Record | None:
    """Delete ``key`` under the request's preconditions; return the record removed, or None."""
    store = state().store
    condition = write_condition(key)
    if condition is None:
        for _ in range(DELETE_ATTEMPTS):
            old = store.get(key)
            if old is None:
                return None
            try:
                store.delete(key, if_version=old.version)
            except Conflict:
                continue  # rewritten between the read and the delete: read it again
            return old
        old = store.get(key)
        store.delete(key)
        return old
    old = store.get(key)
    if condition is ABSENT:
        if old is not None:
            raise PreconditionFailed(f"{key!r} exists")
        return None
    if old is None or old.version != condition:
        raise not_at_version(key)
    try:
        store.delete(key, if_version=condition)
    except Conflict as exc:
        raise not_at_version(key) from exc
    return old
