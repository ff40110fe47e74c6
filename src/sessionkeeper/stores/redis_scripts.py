"""The Redis store's layout and its Lua scripts: each write runs atomically, in one round trip.

A record is a HASH with the value in field ``v`` and the version in field ``n``; its
expiry is Redis's own (PEXPIRE in milliseconds, or PERSIST), the one clock that decides
when a record is gone. Reads are no script: ``HMGET key v n`` and ``PTTL key``, sent
together and run back to back (:data:`READ_FIELDS`).

On one server (standalone or Sentinel) writes also keep the store's key index, a sorted
set whose members are the Redis keys of its records, all with score 0 so that ZRANGE
BYLEX walks them in byte order. ``set`` and ``delete`` take it as an optional KEYS[2]
(a Cluster passes only the record, whose slot the index cannot share). Redis expires
records without telling the index, so members can outlive their records: ``PRUNE``
drops the dead ones among the members it is given, and ``set`` does the same with the
members in its KEYS[3..] (a sample an earlier create drew with ZRANDMEMBER), so keeping
the index tidy costs no round trip of its own.

Every key a script touches is declared in KEYS, as Redis requires of scripts (proxies
and managed services that route or check keys enforce it): index members are read
with a plain ZRANGE or ZRANDMEMBER first, then handed to a script as keys.
"""

from __future__ import annotations

import math
from typing import Final

from .base import check_ttl

__all__ = ["INDEX_SUFFIX", "NEW_MEMBER", "READ_FIELDS", "SCRIPTS", "ttl_ms"]

#: The fields a read asks for: the value and the version.
READ_FIELDS: Final = (b"v", b"n")
# 0xFF never occurs in UTF-8, so no str key (under any key_prefix) can name the index.
INDEX_SUFFIX: Final = b"\xffindex"
#: What the ``set`` script answers when the key is new to the index.
NEW_MEMBER: Final = 2

# KEYS: the record, then optionally the index and index members to check.
# ARGV: mode ('' | 'absent' | 'version'), expected version, value, new version, ttl ms or ''.
# Returns 0 on a mismatch, NEW_MEMBER when the key is new to the index, else 1.
SET: Final = """
local cur = redis.call('HGET', KEYS[1], 'n')
if (ARGV[1] == 'absent' and cur) or (ARGV[1] == 'version' and cur ~= ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'n', ARGV[4])
if ARGV[5] == '' then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if not KEYS[2] then return 1 end
local dead = {}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then dead[#dead + 1] = KEYS[i] end
end
if #dead > 0 then redis.call('ZREM', KEYS[2], unpack(dead)) end
return 1 + redis.call('ZADD', KEYS[2], 0, KEYS[1])
"""
# ARGV: '1' to compare, expected version. Returns -1 on a mismatch, else how many keys went.
DELETE: Final = """
if ARGV[1] == '1' and redis.call('HGET', KEYS[1], 'n') ~= ARGV[2] then return -1 end
if KEYS[2] then redis.call('ZREM', KEYS[2], KEYS[1]) end
return redis.call('DEL', KEYS[1])
"""
TOUCH: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
"""
# KEYS[1]: the index; KEYS[2..]: index members, which are the Redis keys of records.
# Returns the members whose records live, and drops the others from the index.
PRUNE: Final = """
local live, dead = {}, {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then live[#live + 1] = KEYS[i]
  else dead[#dead + 1] = KEYS[i] end
end
if #dead > 0 then redis.call('ZREM', KEYS[1], unpack(dead)) end
return live
"""

SCRIPTS: Final = {
    "set": SET,
    "delete": DELETE,
    "touch": TOUCH,
    "prune": PRUNE,
}


def ttl_ms(ttl: float | None) -> str:
    """The TTL argument of ``set`` and ``touch``: whole milliseconds, '' for none."""
    check_ttl(ttl)
    return "" if ttl is None else str(max(1, math.ceil(ttl * 1000)))
