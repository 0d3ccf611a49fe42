-- frontier: one worker's call on one shard. It applies the worker's queued
-- operations, gives back expired leases, answers a send-permit request,
-- and claims up to ARGV[3] URLs across the ready hosts, each under a lease
-- of ARGV[2] ms.
--
-- ARGV[1] is the call's id, "worker:n": a call sent again after its reply
-- was lost (a reconnect) finds its id in the worker's field of N and gets
-- the same reply, so that nothing is applied twice and no lease it made is
-- stranded.
-- ARGV[4], if not "", asks for a send permit for that host: token ARGV[5],
-- held at most ARGV[6] ms (also the hold of the permits claims carry).
-- ARGV[7…10] are the politeness rules (see common.lua), ARGV[11] WINDOW:
-- the ms of intervals one permit's batch of claims may span.
-- ARGV[12] is the id of the last entry of HINTS the worker read ("": none
-- yet; it starts from the newest).
-- ARGV[13…] are operations, each a letter and its fields, applied in order:
--   k host cap base maxb burst mph  the host's settings, for a host the shard
--                                   does not know yet (before its "a" or "q")
--   a host fp key member            queue member (host.."\0"..pos..entry, see
--                                   common.lua) unless fingerprint fp is in the
--                                   seen set KEYS[key] (then it is added there)
--   d id host                       lease id is done (acknowledged); for a lease
--                                   that expired and went back to the queue, its
--                                   entry is taken out again if still there
--   r id host                       release lease id's concurrency slot (fetch over)
--   q id host entry ms fp key       requeue entry at the front of host's queue,
--                                   hold host ms, end lease id (0: none in this
--                                   shard), mark fp ("" none) seen in KEYS[key]
--   e id                            end lease id (its entry went to another shard)
--   g id                            give lease id back (clean shutdown)
--   x id                            renew lease id for ARGV[2] ms, if still held
--   z                               the worker stops: forget its last call
--   h host ms                       hold host for ms (Retry-After, back-off)
--   c host ms                       host's robots.txt Crawl-delay
--   o host ok ms                    a request to host succeeded (1) or failed (0);
--                                   ms, if not "", is the average response time
--                                   (frontier.Pace's, as this worker saw it)
--   s host token us n               permit token ends: its n requests were
--                                   written at least an interval apart, the
--                                   last at us µs of Redis's clock (0: none was)
-- A lease's id is its fencing token: d, r, q, e and x under a lease no
-- longer held (it expired and its URL went back, maybe to another worker)
-- change nothing of the URL's new lease.
--
-- A host with an interval sends one request at a time: a permit is given
-- (to a claim of the host, or on request) when none is out and the host's
-- bucket (GCRA: tat, its interval and burst) holds a token; the permit
-- ends with the report of the request's write time, which moves tat on.
-- Such a host's claims go to one worker in a batch that carries one
-- permit for all their requests (as many as the host's interval fits in
-- WINDOW, and its free slots): the worker lets them go one at a time, each
-- an interval (margin included) after the last one's write, and reports
-- the last write and their number when the permit ends. Until then no
-- other worker sends to the host, so the batch is as exact as one request.
--
-- Each worker sends every link it finds once, so with several workers most
-- URLs would reach a seen set once a worker. So a call appends the
-- fingerprints it newly marked seen to HINTS (one entry, capped at about
-- HINTMAX entries), and returns those the other workers appended since the
-- worker's last read, which it marks as its own.
--
-- Returns one string, fields separated by "\0": wake (ms until the earliest
-- host is ready; -1: none), pending, leases, ver, Redis's clock in µs, the
-- permit answer (-2 not asked, -1 no interval, 0 given, else ms to wait),
-- the id of the last entry of HINTS read, the other workers' fingerprints
-- (decimal, separated by ","), then for each claim: id, host, entry, permit ("p" given with the claim,
-- "b" the permit of the host's claim before it in this reply, "f" the host
-- has no interval, "n" neither), the host's interval in µs, margin included,
-- and "1" if the host is backed off ("0" if not).
local WORKER = string.match(ARGV[1], '^[^:]*')
local CALL = 'c:' .. WORKER
local HINTMAX = '1000'
local cnt = redis.call('HMGET', N, 'pending', 'leases', 'ver', 'seq', CALL)
local last = cnt[5]
if last and string.sub(last, 1, #ARGV[1] + 1) == ARGV[1] .. '\0' then
  return string.sub(last, #ARGV[1] + 2)
end
seq = tonumber(cnt[4] or '0')
local forget = false
local leaseMs, want, permitMs, WINDOW = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[6]), tonumber(ARGV[11])
-- Numbers passed to Redis are formatted here, once, as integers: Redis
-- formats a Lua number with %.14g, which costs far more.
local leaseAt = string.format('%d', now + leaseMs)
local adds, leaseSet, leaseZ, slotSet = {}, {}, {}, {}
local params = {}
-- seenKey: KEYS[n] by the decimal n an operation names (tonumber, memoised).
local seenKey = setmetatable({}, {__index = function(t, n)
  local k = KEYS[tonumber(n)]
  t[n] = k
  return k
end})

-- ensure returns h's state, set up from its "k" operation if the shard
-- does not know h yet.
local function ensure(h)
  local s = host(h)
  local p = params[h]
  if not s and p then
    s = known(h, tonumber(p[1]), tonumber(p[2]), tonumber(p[3]), tonumber(p[4]), tonumber(p[5]))
    retune(s)
  end
  return s
end

-- Acknowledgements and releases are taken in bulk after the other
-- operations (none of which names a lease acknowledged or released in
-- the same call): one HMGET and one HDEL for all.
local doneIds, doneHosts, releases, relHosts = {}, {}, {}, {}
local nd, nr, na = 0, 0, 0
local arity = {k = 6, a = 4, d = 2, r = 2, q = 6, e = 1, g = 1, x = 1, h = 2, c = 2, o = 3, s = 4, z = 0}
local nops = 0
local newfps, nh = {}, 0
local i, nargv = 13, #ARGV
while i <= nargv do
  local k = ARGV[i]
  local n = arity[k]
  if not n then return redis.error_reply('frontier: unknown operation ' .. tostring(k)) end
  local a1, a2, a3 = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  nops = nops + 1
  if k == 'k' then
    params[a1] = {a2, a3, ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]}
  elseif k == 'a' then
    if redis.call('SADD', seenKey[ARGV[i + 3]], a2) == 1 then
      nh = nh + 1
      newfps[nh] = a2
      local s = ensure(a1)
      if s and (s[MPH] <= 0 or s[TOT] < s[MPH]) then
        s[TOT] = s[TOT] + 1
        adds[na + 1] = '0' -- a string: Redis would format the number 0 with %.14g
        adds[na + 2] = ARGV[i + 4]
        na = na + 2
        s[NQ] = s[NQ] + 1
        pending = pending + 1
        put(a1)
      end
    end
  elseif k == 'd' then
    nd = nd + 1
    doneIds[nd], doneHosts[nd] = a1, a2
  elseif k == 'r' then
    nr = nr + 1
    releases[nr], relHosts[nr] = a1, a2
  elseif k == 'q' then
    local id, h = a1, a2
    if id == '0' or redis.call('HEXISTS', LEASE, id) == 1 then
      if ARGV[i + 5] ~= '' then redis.call('SADD', seenKey[ARGV[i + 6]], ARGV[i + 5]) end
      local s = ensure(h)
      if s then
        enqueue(h, s, front(h, a3))
        hold(h, s, tonumber(ARGV[i + 4]))
      end
      if id ~= '0' then
        redis.call('HDEL', LEASE, id)
        drop(id, h)
      end
      changed = true
    end
  elseif k == 'e' then
    local v = redis.call('HGET', LEASE, a1)
    if v then
      redis.call('HDEL', LEASE, a1)
      drop(a1, (split(v)))
    end
  elseif k == 'g' then
    giveback(a1)
  elseif k == 'z' then
    forget = true
  elseif k == 'x' then
    redis.call('ZADD', LEASES, 'XX', leaseAt, a1)
  elseif k == 'h' then
    local s = host(a1)
    if s then hold(a1, s, tonumber(a2)) end
  elseif k == 'c' then
    local s = host(a1)
    local cd = tonumber(a2)
    if s and s[CD] ~= cd then
      s[CD] = cd
      retune(s)
      put(a1)
    end
  elseif k == 'o' then
    local s = host(a1)
    if s then
      local slow, lat = s[SLOW], s[LAT]
      if a2 == '1' then
        slow = math.max(1, slow * FASTER)
        if a3 ~= '' then lat = tonumber(a3) end
      else
        local limit = s[MAXB] / math.max(s[BASE], s[CD], MINB)
        slow = math.min(slow * SLOWER, math.max(limit, 1))
      end
      if slow ~= s[SLOW] or lat ~= s[LAT] then
        s[SLOW], s[LAT] = slow, lat
        retune(s)
        put(a1)
      end
    end
  elseif k == 's' then
    local s = host(a1)
    if s then
      local at, sends = tonumber(a3), tonumber(ARGV[i + 4])
      if at > 0 and s[IV] > 0 then
        -- The permit's sends were at least an interval apart, the last at
        -- at: GCRA over all of them leaves tat there.
        s[TAT] = math.max(s[TAT] + (sends - 1) * ivus(s), at) + ivus(s)
        put(a1)
      end
      endPermit(a1, s, a2)
    end
  end
  i = i + 1 + n
end
if nr > 0 then
  local held = redis.call('HMGET', SLOT, unpack(releases))
  local gone, ng = {}, 0
  for j = 1, nr do
    if held[j] then
      ng = ng + 1
      gone[ng] = releases[j]
      local h = relHosts[j]
      local s = host(h)
      if s then s[INF] = s[INF] - 1; put(h) end
    end
  end
  if ng > 0 then redis.call('HDEL', SLOT, unpack(gone)) end
end
if nd > 0 then
  local held = redis.call('HMGET', LEASE, unpack(doneIds))
  local ended, hosts, late = {}, {}, {}
  local ne = 0
  for j = 1, nd do
    if held[j] then
      ne = ne + 1
      ended[ne], hosts[ne] = doneIds[j], doneHosts[j]
    else
      late[#late + 1] = {doneIds[j], doneHosts[j]}
    end
  end
  if ne > 0 then
    redis.call('HDEL', LEASE, unpack(ended))
    redis.call('ZREM', LEASES, unpack(ended))
    leases = leases - #ended
    -- Slots still held (no release came): freed.
    local slots = redis.call('HMGET', SLOT, unpack(ended))
    local freed = {}
    for j, id in ipairs(ended) do
      if slots[j] then
        freed[#freed + 1] = id
        local s = host(hosts[j])
        if s then s[INF] = s[INF] - 1; put(hosts[j]) end
      end
    end
    if #freed > 0 then redis.call('HDEL', SLOT, unpack(freed)) end
    changed = true
  end
  for _, d in ipairs(late) do
    local m = redis.call('HGET', GONE, d[1])
    if m then
      redis.call('HDEL', GONE, d[1])
      if redis.call('ZREM', QUEUE, m) == 1 then
        local s = host(d[2])
        if s then s[NQ] = s[NQ] - 1; put(d[2]) end
        pending = pending - 1
        changed = true
      end
    end
  end
end
for i = 1, na, 1000 do
  redis.call('ZADD', QUEUE, unpack(adds, i, math.min(i + 999, na)))
end
if nops > 0 then changed = true end

if want > 0 then
  local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(expired) do
    local m = giveback(id)
    if m then redis.call('HSET', GONE, id, m) end
  end
end

-- The permit asked for.
local permit = -2
if ARGV[4] ~= '' then
  local h = ARGV[4]
  local s = host(h)
  if not s or s[IV] <= 0 then
    permit = -1
  elseif s[PT] ~= 0 and s[PU] > now then
    permit = math.max(1, math.min(s[PU] - now, 2))
  else
    local wait = s[TAT] - (s[BURST] - 1) * ivus(s) - nowus
    if wait > 0 then
      permit = math.ceil(wait / 1000)
    else
      s[PT], s[PU] = tonumber(ARGV[5]), now + permitMs
      put(h)
      permit = 0
    end
  end
end

local out, no, nl = {}, 0, 0
if want > 0 then
  sched()
  local ready = redis.call('ZRANGEBYSCORE', READY, '-inf', now, 'LIMIT', 0, want)
  for _, h in ipairs(ready) do
    if want <= 0 then break end
    local s = host(h)
    local at = s and readyAt(s)
    if not at then
      touched[h] = true -- nothing to claim: out of the ready set
    elseif at <= now then
      local k = math.min(want, s[CAP] - s[INF], s[NQ])
      local flag = 'f'
      local ivs = string.format('%d', math.ceil(ivus(s)))
      local backedOff = s[SLOW] > 1 and '1' or '0'
      if s[IV] > 0 then
        -- A paced host's URLs go to one worker under one permit, as many
        -- as its interval fits in WINDOW ms (at least one): the worker
        -- sends them one at a time, an interval apart, and reports once.
        k, flag = math.min(k, math.max(1, math.floor(WINDOW / s[IV]))), 'p'
      end
      local ms = redis.call('ZRANGEBYLEX', QUEUE, '[' .. h .. '\0', '(' .. h .. '\1', 'LIMIT', 0, k)
      if #ms > 0 then redis.call('ZREM', QUEUE, unpack(ms)) end
      for _, m in ipairs(ms) do
        local n = nextSeq()
        local id = string.format('%d', n)
        nl = nl + 2
        leaseSet[nl - 1], leaseSet[nl] = id, m
        leaseZ[nl - 1], leaseZ[nl] = leaseAt, id
        slotSet[nl - 1], slotSet[nl] = id, '1'
        s[INF], s[NQ] = s[INF] + 1, s[NQ] - 1
        pending, leases = pending - 1, leases + 1
        if flag == 'p' then s[PT], s[PU] = n, now + permitMs end
        no = no + 6
        out[no - 5], out[no - 4], out[no - 3] = id, h, string.sub(m, #h + 18)
        out[no - 2], out[no - 1], out[no] = flag, ivs, backedOff
        if flag == 'p' then flag = 'b' end
        want = want - 1
      end
      if #ms < k then
        pending = pending - s[NQ] -- the count was off: the queue is empty
        s[NQ] = 0
      end
      put(h)
      changed = true
    end
  end
  for i = 1, nl, 1000 do
    local j = math.min(i + 999, nl)
    redis.call('HSET', LEASE, unpack(leaseSet, i, j))
    redis.call('HSET', SLOT, unpack(slotSet, i, j))
    redis.call('ZADD', LEASES, unpack(leaseZ, i, j))
  end
end
sched()
local wake = -1
if want > 0 then
  local first = redis.call('ZRANGE', READY, 0, 0, 'WITHSCORES')
  if #first > 0 then wake = math.max(0, tonumber(first[2]) - now) end
end
local pend = tonumber(cnt[1] or '0') + pending
local held = tonumber(cnt[2] or '0') + leases
local ver = tonumber(cnt[3] or '0')
if changed or permit == 0 then ver = ver + 1 end
if nh > 0 then
  redis.call('XADD', HINTS, 'MAXLEN', '~', HINTMAX, '*', 'w', WORKER, 'f', table.concat(newfps, ','))
end
local hintAt, hints = ARGV[12], {}
if hintAt == '' then
  local last = redis.call('XREVRANGE', HINTS, '+', '-', 'COUNT', 1)
  hintAt = last[1] and last[1][1] or '0-0'
else
  for _, e in ipairs(redis.call('XRANGE', HINTS, '(' .. hintAt, '+', 'COUNT', 64)) do
    hintAt = e[1]
    if e[2][2] ~= WORKER then hints[#hints + 1] = e[2][4] end
  end
end
local head = {string.format('%d', wake), string.format('%d', pend), string.format('%d', held),
  string.format('%d', ver), string.format('%d', nowus), string.format('%d', permit),
  hintAt, table.concat(hints, ',')}
local reply = table.concat(head, '\0')
if no > 0 then reply = reply .. '\0' .. table.concat(out, '\0') end
if changed or permit == 0 then
  -- The reply is kept for a call sent again (a call that changed nothing
  -- may run twice).
  redis.call('HSET', N, 'pending', pend, 'leases', held, 'ver', ver, 'seq', string.format('%d', seq),
    CALL, ARGV[1] .. '\0' .. reply)
  if forget then redis.call('HDEL', N, CALL) end
end
return reply
