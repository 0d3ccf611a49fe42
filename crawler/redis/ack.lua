-- ack: queue the new entries found and end the leases of the URLs done.
-- ARGV[2] is JSON {"a": [[host, fp, bucket, entry, cap, base, maxb], …],
-- "d": [[id, host, entry], …]}. An entry whose fingerprint is already in
-- the seen set is not queued again. A lease that expired meanwhile was
-- given back: its entry is taken out of the queue again if still there.
-- Returns {added, pending, leases, ver}.
local x = cjson.decode(ARGV[2])
local added = 0
for _, a in ipairs(list(x.a)) do
  local h = a[1]
  if redis.call('SADD', P .. 'seen:' .. a[3], a[2]) == 1 then
    known(h, a[5], a[6], a[7])
    redis.call('RPUSH', P .. 'q:' .. h, a[4])
    redis.call('HINCRBY', N, 'pending', 1)
    sched(h)
    added = added + 1
  end
end
for _, d in ipairs(list(x.d)) do
  local v = redis.call('HGET', LEASE, d[1])
  if v then
    drop(d[1], split(v))
  elseif redis.call('LREM', P .. 'q:' .. d[2], 1, d[3]) == 1 then
    redis.call('HINCRBY', N, 'pending', -1)
    sched(d[2])
  end
end
redis.call('HINCRBY', N, 'ver', 1)
local s = state()
return {added, s[1], s[2], s[3]}
