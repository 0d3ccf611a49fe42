-- Shared state of frontier.lua (prepended to it). One call works on one
-- shard, and every key it touches is in KEYS (all hash-tagged "{shard}", so
-- one slot on Redis Cluster):
--
--   KEYS[1] ready   zset host → ms when it may be claimed next (hosts with
--                   queued URLs and a free concurrency slot only)
--   KEYS[2] queue   zset, all scores 0, of host.."\0"..pos..entry: each
--                   host's queue in lexical order (pos: 16 characters, "0"
--                   and a descending counter for URLs put back at the front,
--                   "1" and the adding worker's clock in µs, increasing in
--                   each worker, for new URLs: the worker sends the whole
--                   member), so that the first URL of a host is one
--                   ZRANGEBYLEX away
--   KEYS[3] hosts   hash host → its state, a MessagePack array (its fields below)
--   KEYS[4] leases  zset lease id → ms when it expires
--   KEYS[5] lease   hash lease id → the URL's queue member (below) when claimed
--   KEYS[6] slot    hash lease id → 1 while its host's concurrency slot is held
--   KEYS[7] n       hash: pending (queued URLs), leases (held), ver (bumped
--                   on change), seq (lease ids and front positions), and
--                   "c:"..worker: that worker's last call, its id and reply
--                   (see frontier.lua)
--   KEYS[8] gone    hash lease id → queue member, for leases that expired and
--                   went back to the queue (a late acknowledgement removes it)
--   KEYS[9] hints   stream of the fingerprints each call newly marked seen,
--                   capped: what the other workers need not offer again
--                   (see frontier.lua)
--   KEYS[10…]       seen sets of 64-bit fingerprints (decimal, intset-encoded)
--                   named by the operations that use them
--
-- Host state is read once per call into H, changed there, and written back
-- at the end with one HSET; the ready set is updated with one ZADD and one
-- ZREM for all the hosts touched (sched). So a call costs a few commands
-- for its hosts and URLs, each O(log n), whatever it does.
local READY, QUEUE, HOSTS, LEASES, LEASE, SLOT, N, GONE, HINTS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local t = redis.call('TIME')
local nowus = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(nowus / 1000)
-- The politeness rules come from Go (package frontier's rules.go), so that
-- both frontiers apply the same numbers: MINB the back-off floor (ms),
-- SLOWER and FASTER the back-off factors on a failure and a success, and
-- MARGIN (µs) what is added to a host's interval between two sends, as
-- frontier's send gate adds it.
local MINB, SLOWER, FASTER, MARGIN =
  tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])

-- Fields of a host's state, an array: its concurrency cap, configured
-- interval, back-off cap, Crawl-delay (ms), back-off factor, interval (ms),
-- held until (ms), requests in flight, URLs queued, GCRA's theoretical
-- arrival time (µs), burst, the send permit out (its token, 0: none) and
-- until when (ms), URLs queued ever, the most it may queue, and average
-- response time (ms).
local CAP, BASE, MAXB, CD, SLOW, IV, HOLD, INF, NQ, TAT, BURST, PT, PU, TOT, MPH, LAT =
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16

local H, dirty, touched = {}, {}, {}
local pending, leases, changed = 0, 0, false -- changes of the counters; any change
local seq -- the shard's counter (read with the others at the start)

local function nextSeq()
  seq = seq + 1
  return seq
end

-- host returns h's state (nil if the shard does not know h). It is kept
-- as a MessagePack array: packing and unpacking it is C, where formatting
-- and parsing sixteen decimal numbers a host a call, and naming them, was
-- the largest part of the script's time. A state written as
-- comma-separated numbers (before) is read too.
local function host(h)
  local s = H[h]
  if s == nil then
    local v = redis.call('HGET', HOSTS, h)
    if not v then
      H[h] = false
      return nil
    end
    local b = string.byte(v, 1)
    if b == 45 or (b >= 48 and b <= 57) then -- '-' or a digit: the comma form
      s = {}
      for x in string.gmatch(v, '[^,]+') do s[#s + 1] = tonumber(x) end
    else
      s = cmsgpack.unpack(v)
    end
    s[LAT] = s[LAT] or 0 -- a state written before latency was kept
    H[h] = s
  end
  return s or nil
end

-- put marks h's state changed and h to be rescheduled.
local function put(h)
  dirty[h], touched[h] = true, true
end

-- known sets up host h's state the first time the shard meets it.
local function known(h, cap, base, maxb, burst, mph)
  local s = host(h)
  if s then return s end
  s = {cap, base, maxb, 0, 1, 0, 0, 0, 0, 0, burst, 0, 0, 0, mph, 0}
  H[h] = s
  put(h)
  return s
end

-- retune sets s's interval as frontier.Pace.Interval does: the longest of
-- its configured interval, Crawl-delay, back-off and latency term, back-off
-- capped, never faster than configured.
local function retune(s)
  local b = math.max(s[BASE], s[CD])
  local iv = b
  if s[SLOW] > 1 then iv = math.max(iv, math.max(b, MINB) * s[SLOW]) end
  if b > 0 then iv = math.max(iv, s[LAT] / math.max(s[CAP], 1)) end
  s[IV] = math.min(iv, math.max(s[MAXB], b))
end

local function ivus(s)
  return s[IV] * 1000 + MARGIN
end

-- gate returns the ms at which host state s lets its next request go (its
-- send permit free and its bucket holding a token), or 0 if it has no
-- interval.
local function gate(s)
  if s[IV] <= 0 then return 0 end
  if s[PT] ~= 0 and s[PU] > now then return s[PU] end
  return math.ceil((s[TAT] - (s[BURST] - 1) * ivus(s)) / 1000)
end

-- readyAt returns the ms at which host state s may be claimed, or nil if
-- it has nothing queued or no free slot.
local function readyAt(s)
  if s[NQ] <= 0 or s[INF] >= s[CAP] then return nil end
  return math.max(s[HOLD], gate(s))
end

-- sched writes the changed hosts' states and their places in the ready set.
local function sched()
  local hs, add, rem = {}, {}, {}
  for h in pairs(dirty) do
    hs[#hs + 1] = h
    hs[#hs + 1] = cmsgpack.pack(H[h])
  end
  for h in pairs(touched) do
    local at = readyAt(H[h])
    if at then
      add[#add + 1] = string.format('%d', at) -- Redis would format a number with %.14g: slower
      add[#add + 1] = h
    else
      rem[#rem + 1] = h
    end
  end
  local function bulk(cmd, key, args)
    for i = 1, #args, 1000 do
      redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
    end
  end
  bulk('HSET', HOSTS, hs)
  bulk('ZADD', READY, add)
  bulk('ZREM', READY, rem)
  dirty, touched = {}, {}
end

-- front returns the queue member of entry e of host h at the front of its
-- queue.
local function front(h, e)
  return h .. '\0' .. string.format('0%015x', 2 ^ 52 - nextSeq()) .. e
end

local function enqueue(h, s, m)
  redis.call('ZADD', QUEUE, '0', m)
  s[NQ] = s[NQ] + 1
  pending = pending + 1
  put(h)
end

-- split returns the host and the entry of a lease value: the URL's queue
-- member when it was claimed (host.."\0"..pos..entry), or host.."\n"..entry
-- as leases were written before.
local function split(v)
  local i = string.find(v, '\0', 1, true)
  if i then return string.sub(v, 1, i - 1), string.sub(v, i + 17) end
  i = string.find(v, '\n', 1, true)
  return string.sub(v, 1, i - 1), string.sub(v, i + 1)
end

-- drop ends lease id of host h (HDEL'ed from LEASE by the caller): its
-- slot, if still held, is freed.
local function drop(id, h)
  redis.call('ZREM', LEASES, id)
  leases = leases - 1
  if redis.call('HDEL', SLOT, id) == 1 then
    local s = host(h)
    if s then
      s[INF] = s[INF] - 1
      put(h)
    end
  end
  changed = true
end

-- endPermit ends permit token of h's state s if it is out.
local function endPermit(h, s, token)
  if s[PT] ~= 0 and tostring(s[PT]) == tostring(token) then
    s[PT], s[PU] = 0, 0
    put(h)
  end
end

-- giveback puts lease id's entry back at the front of its host's queue and
-- returns its queue member (nil if the lease is not held).
local function giveback(id)
  local v = redis.call('HGET', LEASE, id)
  if not v then return nil end
  redis.call('HDEL', LEASE, id)
  local h, e = split(v)
  local s = host(h)
  local m = front(h, e)
  if s then
    enqueue(h, s, m)
    endPermit(h, s, id) -- a permit claimed with it and never used
  end
  drop(id, h)
  return m
end

-- hold holds h's state s until ms from now, if that is later than its hold.
local function hold(h, s, ms)
  if ms > 0 and now + ms > s[HOLD] then
    s[HOLD] = now + ms
    put(h)
  end
end
