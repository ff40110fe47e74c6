"""The Lua scripts of the Redis store: each runs atomically, in one round trip.

A record is a HASH with the value in field ``v`` and the version in field ``n``. Expiry
is set with PEXPIRE (milliseconds) or removed with PERSIST in the same script.

On one server (standalone or Sentinel) writes also keep the store's key index, a sorted
set whose members are the Redis keys of its records, all with score 0 so that ZRANGE
BYLEX walks them in byte order. ``set`` and ``delete`` take it as an optional KEYS[2]
(a Cluster passes only the record, whose slot the index cannot share). Redis expires
records without telling the index, so members can outlive their records: ``SCAN_INDEX``
drops the ones it meets, and ``set`` drops dead ones among a few sampled members.
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
# A new index member samples 3 others and drops the dead ones: with one member added and
# 3 * dead/total removed per new record, dead members settle at about a third of the index
# in the steady state (records created as fast as they expire), without any cron job.
SET: Final = """
local cur = redis.call('HGET', KEYS[1], 'n')
if (ARGV[1] == 'absent' and cur) or (ARGV[1] == 'version' and cur ~= ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'n', ARGV[4])
if ARGV[5] == '' then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if KEYS[2] and redis.call('ZADD', KEYS[2], 0, KEYS[1]) == 1 then
  local sample = redis.call('ZRANDMEMBER', KEYS[2], 3)
  if redis.call('EXISTS', unpack(sample)) < #sample then
    for _, m in ipairs(sample) do
      if redis.call('EXISTS', m) == 0 then redis.call('ZREM', KEYS[2], m) end
    end
  end
end
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
# KEYS[1]: the index. ARGV: ZRANGE BYLEX min and max, how many members to visit (at most
# a few thousand: unpack's limit). Returns {live members, last member visited, how many}.
# One EXISTS of every member answers the usual case (all live) with one call, not one each.
SCAN_INDEX: Final = """
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYLEX', 'LIMIT', 0, ARGV[3])
if #members == 0 or redis.call('EXISTS', unpack(members)) == #members then
  return {members, members[#members] or '', #members}
end
local live, dead = {}, {}
for _, m in ipairs(members) do
  if redis.call('EXISTS', m) == 1 then live[#live + 1] = m else dead[#dead + 1] = m end
end
if #dead > 0 then redis.call('ZREM', KEYS[1], unpack(dead)) end
return {live, members[#members] or '', #members}
"""

SCRIPTS: Final = {
    "get": GET,
    "set": SET,
    "delete": DELETE,
    "touch": TOUCH,
    "scan_index": SCAN_INDEX,
}
