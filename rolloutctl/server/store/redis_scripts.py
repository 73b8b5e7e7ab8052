"""The Redis store's atomic steps, as Lua scripts, and its record encoding.

Keys, for a prefix P: `P:rollout:ID` (the record, JSON), `P:delivery:ID` (which process
took the delivery of ID's completion), `P:owners` (a sorted set: owner -> last
heartbeat, in Redis's own clock, so replicas' clocks need not agree) and `P:owned:O`
(the ids owner O has in flight). Times are microseconds of Redis's `TIME`.

A script runs whole or not at all, so "claim if nobody has" and "write unless someone
else took the delivery" cannot interleave with another replica's step.
"""

from __future__ import annotations

from typing import Any

import orjson

from rolloutctl.agent.context import RolloutMetrics
from rolloutctl.server.store.base import Callback, RolloutRecord, RolloutState

__all__ = [
    "CLAIM",
    "CLAIM_DELIVERY",
    "HEARTBEAT",
    "PUT",
    "RELEASE",
    "SCAN_LOST",
    "Arg",
    "decode",
    "encode",
    "first_body",
]

Arg = bytes | str | int | float  # a script argument

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000000 + t[2]\n"

# KEYS: owned set, void key of this call, then one record key per claim. ARGV: ttl ms,
# deadline (us), key prefix of duplicates seen, then per claim: value, id. -1: the
# deadline passed, or the caller voided this call (it gave up waiting: write nothing);
# else per claim 1 (claimed, or claimed before by this very value, on a retried call)
# or the value stored for that id before. A duplicate that finds a record still as its
# claim wrote it (nobody confirmed it yet) leaves a mark, for `RELEASE`.
CLAIM = (
    _NOW
    + """
if now > tonumber(ARGV[2]) or redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local out, seen = {}, {}
for i = 3, #KEYS do
  local value, id = ARGV[2 * i - 2], ARGV[2 * i - 1]
  local old = redis.call('GET', KEYS[i])
  if old and (old ~= value or seen[KEYS[i]]) then
    out[i - 2] = old
    if string.find(old, '"claim":"', 1, true) then
      redis.call('SET', ARGV[3] .. id, 1, 'PX', ARGV[1])
    end
  else
    redis.call('SET', KEYS[i], value, 'PX', ARGV[1])
    redis.call('SADD', KEYS[1], id)
    seen[KEYS[i]] = true
    out[i - 2] = 1
  end
end
return out
"""
)

# KEYS: owned set, void key of the claim call, then per claim: record key. ARGV: me,
# void ms, key prefix of duplicates seen, delivery key prefix, ttl ms, then per claim:
# value, id. For a claim call whose answer never came: voids it (should it run later, it
# writes nothing), then of the claims it made, removes those nobody saw; one that a
# duplicate init saw (it got 202 for a rollout that never starts) stays this owner's,
# its delivery claimed, and its id is returned: the owner tells its trainer.
RELEASE = """
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
local told = {}
for i = 3, #KEYS do
  local value, id = ARGV[2 * i], ARGV[2 * i + 1]
  if redis.call('GET', KEYS[i]) == value then
    if redis.call('EXISTS', ARGV[3] .. id) == 1 then
      redis.call('SET', ARGV[4] .. id, ARGV[1], 'PX', ARGV[5])
      told[#told + 1] = id
    else
      redis.call('DEL', KEYS[i])
      redis.call('SREM', KEYS[1], id)
    end
  end
end
return told
"""

# KEYS: owned set, then per rollout: record key, delivery key. ARGV: me, ttl ms, then
# per rollout: value, id. Per rollout 1: this process delivers (the finished record is
# written), 0: another process took the delivery over.
CLAIM_DELIVERY = """
local out = {}
for i = 2, #KEYS, 2 do
  local j = i + 1
  local holder = redis.call('GET', KEYS[i + 1])
  if holder and holder ~= ARGV[1] then
    out[#out + 1] = 0
  else
    redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[2])
    redis.call('SET', KEYS[i], ARGV[j], 'PX', ARGV[2])
    redis.call('SREM', KEYS[1], ARGV[j + 1])
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: owned set, then per record: record key, delivery key.
# ARGV: me, ttl ms, nx (1: only where no record is, as when restoring), then per
# record: value, id, active (1/0). Records whose delivery another process took are
# left alone: they are that process's now. Returns how many were written.
PUT = """
local written = 0
for i = 2, #KEYS, 2 do
  local j = 4 + (i - 2) / 2 * 3
  local holder = redis.call('GET', KEYS[i + 1])
  if not holder or holder == ARGV[1] then
    local done
    if ARGV[3] == '1' then
      done = redis.call('SET', KEYS[i], ARGV[j], 'PX', ARGV[2], 'NX')
    else
      done = redis.call('SET', KEYS[i], ARGV[j], 'PX', ARGV[2])
    end
    if done then
      written = written + 1
      if ARGV[j + 2] == '1' then
        redis.call('SADD', KEYS[1], ARGV[j + 1])
      else
        redis.call('SREM', KEYS[1], ARGV[j + 1])
      end
    end
  end
end
return written
"""

# KEYS: owners, owned set. ARGV: me, ttl ms, record key prefix, "host:" of this machine.
# Returns {now, new, peers}: new is 1 when the store had no heartbeat of this owner (a
# first beat, or a store that restarted empty); peers, the owners of this machine
# (whose pids tell at once whether they still run). Records in flight live while it beats.
HEARTBEAT = (
    _NOW
    + """
local new = redis.call('ZADD', KEYS[1], now, ARGV[1])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('PEXPIRE', ARGV[3] .. id, ARGV[2])
end
local peers = {}
for _, owner in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(owner, 1, #ARGV[4]) == ARGV[4] then peers[#peers + 1] = owner end
end
return {now, new, peers}
"""
)

# KEYS: owners. ARGV: me, timeout (us; -1: no owner counts as lost for its silence),
# key prefix P, ttl ms, at most this many ids, then owners known to be dead.
# Takes over the in-flight ids of dead owners and of owners silent for longer than the
# timeout: claims each delivery (unless its owner did, or another rescuer that is not
# the lost owner itself) and makes them this owner's, so that they are lost again if it
# dies before it delivered. Returns {id, lost owner, record} triples to rescue.
SCAN_LOST = (
    _NOW
    + """
local found, n, limit = {}, 0, tonumber(ARGV[5])
local lost = {unpack(ARGV, 6)}
if tonumber(ARGV[2]) >= 0 then
  for _, owner in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))) do
    lost[#lost + 1] = owner
  end
end
local mine = ARGV[3] .. ':owned:' .. ARGV[1]
for _, owner in ipairs(lost) do
  if n >= limit then break end
  local owned = ARGV[3] .. ':owned:' .. owner
  if owner ~= ARGV[1] then
    for _, id in ipairs(redis.call('SRANDMEMBER', owned, limit - n)) do
      redis.call('SREM', owned, id)
      local delivery = ARGV[3] .. ':delivery:' .. id
      local holder = redis.call('GET', delivery)
      local record = redis.call('GET', ARGV[3] .. ':rollout:' .. id)
      local state = record and cjson.decode(record)['status']['state']
      if (state == 'queued' or state == 'running') and (not holder or holder == owner) then
        redis.call('SET', delivery, ARGV[1], 'PX', ARGV[4])
        redis.call('SADD', mine, id)
        table.insert(found, id)
        table.insert(found, owner)
        table.insert(found, record)
        n = n + 1
      end
    end
    if redis.call('SCARD', owned) == 0 then redis.call('ZREM', KEYS[1], owner) end
  end
end
return found
"""
)


def encode(record: RolloutRecord, claim: str | None = None) -> bytes:
    """The stored form: the first 202 body and the status, and while the rollout is in
    flight, what a rescuer needs: the callback and the history so far. `claim` makes a
    claim's value unique, so that only a retry of the same claim finds it its own."""
    body: dict[str, Any] = {"body": record.response_body.decode(), "status": record.status()}
    if claim is not None:
        body["claim"] = claim
    if record.active and record.callback is not None:
        body["callback"] = {"url": record.callback.url, "key": record.callback.key}
        body["messages"] = record.history()
    return orjson.dumps(body, default=str)


def decode(rollout_id: str, stored: bytes, owner: str) -> RolloutRecord:
    """A record as another process wrote it, taken from the lost `owner` (its owner, or
    a rescuer lost before it delivered), for a rescue: callback and history."""
    value = orjson.loads(stored)
    status, callback = value["status"], value.get("callback")
    record = RolloutRecord(rollout_id, str(value["body"]).encode())
    record.state = RolloutState(status["state"])
    record.owner = owner
    record.metrics = RolloutMetrics(
        num_llm_calls=status.get("num_llm_calls", 0), num_tool_calls=status.get("num_tool_calls", 0)
    )
    record.messages = value.get("messages")
    if callback is not None:
        record.callback = Callback(callback["url"], callback.get("key"))
    return record


def first_body(stored: bytes) -> bytes:
    """The first 202 body kept in a stored record."""
    return str(orjson.loads(stored)["body"]).encode()
