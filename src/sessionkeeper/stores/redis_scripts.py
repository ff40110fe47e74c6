"""The Lua scripts of the Redis store: each runs atomically, in one round trip.

A record is a HASH with the value in field ``v`` and the version in field ``n``. Expiry
is set with PEXPIRE (milliseconds) or removed with PERSIST in the same script.

On one server (standalone or Sentinel) writes also keep the store's key index, a sorted
set whose members are the Redis keys of its records, all with score 0 so that ZRANGE
BYLEX walks them in byte order. ``set`` and ``delete`` take it as an optional KEYS[2]
(a Cluster passes only the record, whose slot the index cannot share). Redis expires
records without telling the index, so members can outlive their records: ``PRUNE``
drops the dead ones among the members it is given.

Every key a script touches is declared in KEYS, as Redis requires of scripts (proxies
and managed services that route or check keys enforce it): index members are read
with a plain ZRANGE or ZRANDMEMBER first, then handed to ``PRUNE`` as keys.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SCRIPTS"]

# Returns nil, or {value, version, PTTL in ms (-1: no expiry)}.
GET: Final = """
local r = redis.call('HMGET', KEYS[1], 'v', 'n')
if not r[1] then return false end
return {r[1], r[2] or '', redis.call('PTTL', KEYS[1])}
"""
# ARGV: mode ('' | 'absent' | 'version'), expected version, value, new version, ttl ms or ''.
# Returns 0 on a mismatch, 2 when the key is new to the index, else 1.
SET: Final = """
local cur = redis.call('HGET', KEYS[1], 'n')
if (ARGV[1] == 'absent' and cur) or (ARGV[1] == 'version' and cur ~= ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'n', ARGV[4])
if ARGV[5] == '' then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if KEYS[2] and redis.call('ZADD', KEYS[2], 0, KEYS[1]) == 1 then return 2 end
return 1
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
    "get": GET,
    "set": SET,
    "delete": DELETE,
    "touch": TOUCH,
    "prune": PRUNE,
}
