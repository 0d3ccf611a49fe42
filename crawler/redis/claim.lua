-- claim: apply this worker's pending operations, requeue expired leases,
-- then lease up to ARGV[3] entries of ready hosts for ARGV[2] ms.
-- ARGV[4] is a JSON list of operations, applied in order:
--   ["r", id]                          release lease id's concurrency slot (fetch done)
--   ["q", id, host, entry, holdms, fp] requeue entry at the front of host's queue,
--                                      hold host, end lease id (0: none here),
--                                      mark fp ("" none) seen
--   ["d", id]                          end lease id (its entry went to another shard)
--   ["g", id]                          give lease id back (clean shutdown)
--   ["h", host, ms]                    hold host for ms (Retry-After, back-off)
--   ["c", host, ms]                    host's robots.txt Crawl-delay
--   ["o", host, ok]                    a request to host succeeded (1) or failed (0)
-- Returns {wake, pending, leases, ver, id1, host1, entry1, …}: wake is the
-- ms until the earliest host is ready (-1: none has work and a free slot).
local leaseMs, want = tonumber(ARGV[2]), tonumber(ARGV[3])
local ops = list(cjson.decode(ARGV[4]))
local changed = #ops > 0
for _, op in ipairs(ops) do
  local k = op[1]
  if k == 'r' then
    if redis.call('HDEL', SLOT, op[2]) == 1 then
      local v = redis.call('HGET', LEASE, op[2])
      if v then
        local h = split(v)
        redis.call('HINCRBY', P .. 'h:' .. h, 'inf', -1)
        sched(h)
      end
    end
  elseif k == 'q' then
    local id, h = op[2], op[3]
    if id == 0 or redis.call('HEXISTS', LEASE, id) == 1 then
      if op[6] ~= '' then redis.call('SADD', P .. 'seen:' .. op[7], op[6]) end
      redis.call('LPUSH', P .. 'q:' .. h, op[4])
      redis.call('HINCRBY', N, 'pending', 1)
      hold(h, op[5])
      if id ~= 0 then drop(id, split(redis.call('HGET', LEASE, id))) end
      sched(h)
    end
  elseif k == 'd' then
    local v = redis.call('HGET', LEASE, op[2])
    if v then drop(op[2], split(v)) end
  elseif k == 'g' then
    giveback(op[2])
  elseif k == 'h' then
    hold(op[2], op[3])
    sched(op[2])
  elseif k == 'c' then
    redis.call('HSET', P .. 'h:' .. op[2], 'cd', op[3])
    retune(op[2])
    sched(op[2])
  elseif k == 'o' then
    local hk = P .. 'h:' .. op[2]
    local s = redis.call('HMGET', hk, 'slow', 'base', 'cd', 'maxb')
    local slow = num(s[1], 1)
    if op[3] == 1 then
      slow = math.max(1, slow * 0.8)
    else
      local limit = num(s[4], 60000) / math.max(num(s[2], 0), num(s[3], 0), 100)
      slow = math.min(slow * 2, math.max(limit, 1))
    end
    redis.call('HSET', hk, 'slow', slow)
    retune(op[2])
    sched(op[2])
  end
end

local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  giveback(id)
  changed = true
end

local out = {-1}
while want > 0 do
  local r = redis.call('ZRANGE', READY, 0, 0, 'WITHSCORES')
  if #r == 0 then break end
  local h, at = r[1], tonumber(r[2])
  if at > now then
    out[1] = at - now
    break
  end
  local e = redis.call('LPOP', P .. 'q:' .. h)
  if e then
    local id = redis.call('INCR', P .. 'seq')
    local hk = P .. 'h:' .. h
    redis.call('HSET', LEASE, id, h .. '\n' .. e)
    redis.call('ZADD', LEASES, now + leaseMs, id)
    redis.call('HSET', SLOT, id, 1)
    redis.call('HINCRBY', hk, 'inf', 1)
    redis.call('HSET', hk, 'last', now)
    redis.call('HINCRBY', N, 'pending', -1)
    sched(h)
    table.insert(out, id)
    table.insert(out, h)
    table.insert(out, e)
    want = want - 1
    changed = true
  else
    redis.call('ZREM', READY, h)
  end
end
if changed then redis.call('HINCRBY', N, 'ver', 1) end
local s = state()
table.insert(out, 2, s[1])
table.insert(out, 3, s[2])
table.insert(out, 4, s[3])
return out
