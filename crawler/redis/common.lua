-- Shared by claim.lua and ack.lua (prepended to each). One call works on
-- one shard: every key starts with P = ARGV[1], "<prefix>:{<shard>}:", so all
-- of them hash to the slot of KEYS[1] (P.."ready") on Redis Cluster too.
--
--   P.."ready"     zset host → ms when its next request is allowed (hosts
--                  with queued URLs and a free concurrency slot only)
--   P.."q:"..host  list of queued entries (JSON), FIFO; retries go first
--   P.."h:"..host  hash: cap, base, maxb, cd, slow, iv, last, hold, inf
--   P.."leases"    zset lease id → ms when it expires
--   P.."lease"     hash lease id → host.."\n"..entry
--   P.."slot"      hash lease id → 1 while its host's concurrency slot is held
--   P.."seen:"..b  sets of 64-bit fingerprints (decimal, so intset-encoded)
--   P.."n"         hash: pending (queued entries), ver (bumped on change)
local P = ARGV[1]
local READY, LEASES, LEASE, SLOT, N = KEYS[1], P .. 'leases', P .. 'lease', P .. 'slot', P .. 'n'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- list returns v if it is a (decoded JSON) list, else an empty one.
local function list(v)
  if type(v) == 'table' then return v end
  return {}
end

local function num(v, d)
  if v then return tonumber(v) end
  return d
end

-- sched puts host h in the ready set at the later of its rate's next slot
-- and its hold, if it has work and a free slot; otherwise takes it out.
local function sched(h)
  local s = redis.call('HMGET', P .. 'h:' .. h, 'inf', 'cap', 'last', 'iv', 'hold')
  if num(s[1], 0) < num(s[2], 1) and redis.call('LLEN', P .. 'q:' .. h) > 0 then
    local at = num(s[3], 0) + num(s[4], 0)
    redis.call('ZADD', READY, math.max(at, num(s[5], 0)), h)
  else
    redis.call('ZREM', READY, h)
  end
end

-- retune sets h's interval from its configured interval, Crawl-delay and
-- back-off factor: the longest wins, back-off is capped, never faster than
-- configured (as crawler.frontier.retune, without the latency term).
local function retune(h)
  local hk = P .. 'h:' .. h
  local s = redis.call('HMGET', hk, 'base', 'cd', 'slow', 'maxb')
  local b = math.max(num(s[1], 0), num(s[2], 0))
  local slow, iv = num(s[3], 1), b
  if slow > 1 then iv = math.max(iv, math.max(b, 100) * slow) end
  iv = math.min(iv, math.max(num(s[4], 60000), b))
  redis.call('HSET', hk, 'iv', iv)
end

-- drop ends lease id of host h: its slot, if still held, is freed.
local function drop(id, h)
  redis.call('HDEL', LEASE, id)
  redis.call('ZREM', LEASES, id)
  if redis.call('HDEL', SLOT, id) == 1 then
    redis.call('HINCRBY', P .. 'h:' .. h, 'inf', -1)
  end
  sched(h)
end

-- split returns the host and the entry of a lease value.
local function split(v)
  local i = string.find(v, '\n', 1, true)
  return string.sub(v, 1, i - 1), string.sub(v, i + 1)
end

-- giveback puts lease id's entry back at the front of its host's queue.
local function giveback(id)
  local v = redis.call('HGET', LEASE, id)
  if not v then return end
  local h, e = split(v)
  redis.call('LPUSH', P .. 'q:' .. h, e)
  redis.call('HINCRBY', N, 'pending', 1)
  drop(id, h)
end

-- hold holds host h until ms from now, if that is later than its hold.
local function hold(h, ms)
  if ms > 0 then
    local hk = P .. 'h:' .. h
    if now + ms > num(redis.call('HGET', hk, 'hold'), 0) then
      redis.call('HSET', hk, 'hold', now + ms)
    end
  end
end

-- known sets up host h's state the first time the shard meets it.
local function known(h, cap, base, maxb)
  local hk = P .. 'h:' .. h
  if redis.call('EXISTS', hk) == 0 then
    redis.call('HSET', hk, 'cap', cap, 'base', base, 'maxb', maxb, 'slow', 1, 'inf', 0, 'last', 0, 'hold', 0)
    retune(h)
  end
end

local function state()
  return {redis.call('HINCRBY', N, 'pending', 0), redis.call('ZCARD', LEASES), redis.call('HINCRBY', N, 'ver', 0)}
end
