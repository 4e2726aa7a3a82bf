#pragma once
// The Redis Functions library every host loads (FUNCTION LOAD REPLACE) at connect. Each
// function first checks that the calling host still owns the entry (XPENDING filtered by
// consumer), so a host that lost its lease can neither renew, answer nor release it.
// docs/SCALE_OUT.md describes the protocol.
namespace procpool::supervisor::redis {

inline constexpr const char* kFunctions = R"lua(#!lua name=procpool
local function owned(stream, group, consumer, id)
  return #redis.call('XPENDING', stream, group, id, id, 1, consumer) == 1
end

-- KEYS: stream. ARGV: group, consumer, id... Resets the idle time of each entry still
-- ours (JUSTID: not counted as a delivery). Returns the ids that are no longer ours.
local function renew(keys, args)
  local lost = {}
  for i = 3, #args do
    if owned(keys[1], args[1], args[2], args[i]) then
      redis.call('XCLAIM', keys[1], args[1], args[2], 0, args[i], 'JUSTID')
    else
      table.insert(lost, args[i])
    end
  end
  return lost
end

-- KEYS: stream, reply stream, done key[, dead stream]. ARGV: group, consumer, id, result,
-- done ttl seconds[, cause]. The one result of a job: only from its owner, only once
-- (SET NX). With a dead stream, the entry's fields go there with the cause. Returns 1 if
-- the result was delivered, 0 if dropped.
local function finish(keys, args)
  if not owned(keys[1], args[1], args[2], args[3]) then return 0 end
  if keys[4] then
    local entry = redis.call('XRANGE', keys[1], args[3], args[3])
    local fields = {'cause', args[6], 'entry', args[3]}
    if entry[1] then
      for _, v in ipairs(entry[1][2]) do table.insert(fields, v) end
    end
    redis.call('XADD', keys[4], '*', unpack(fields))
  end
  local first = redis.call('SET', keys[3], args[3], 'NX', 'EX', tonumber(args[5]))
  if first and keys[2] ~= '' then redis.call('XADD', keys[2], '*', 'result', args[4]) end
  redis.call('XACK', keys[1], args[1], args[3])
  redis.call('XDEL', keys[1], args[3])
  if first then return 1 end
  return 0
end

-- KEYS: stream. ARGV: group, consumer, id... Hands entries back, uncharged: each still
-- ours is added again (a fresh delivery count) and the original acknowledged and deleted.
local function release(keys, args)
  local n = 0
  for i = 3, #args do
    if owned(keys[1], args[1], args[2], args[i]) then
      local entry = redis.call('XRANGE', keys[1], args[i], args[i])
      if entry[1] then redis.call('XADD', keys[1], '*', unpack(entry[1][2])) end
      redis.call('XACK', keys[1], args[1], args[i])
      redis.call('XDEL', keys[1], args[i])
      n = n + 1
    end
  end
  return n
end

redis.register_function('pp_renew', renew)
redis.register_function('pp_finish', finish)
redis.register_function('pp_release', release)
)lua";

}  // namespace procpool::supervisor::redis
