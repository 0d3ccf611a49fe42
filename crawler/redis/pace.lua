-- pace: a host's requests leave one at a time, each its interval after the
-- last one was written (see crawler.sendGate, which this mirrors for
-- several processes). ARGV[2] is the host, ARGV[3] the call:
--   "w", token, ms   a permit for a request: returns 0 and gives permit
--                    token (held at most ms) if none is out and the
--                    interval has passed since the last request left;
--                    -1 if the host has no interval (no permit needed);
--                    else the ms to wait before asking again
--   "s", token, 1|0  permit token's request was written (1) or not (0):
--                    the permit ends; a written request is dated by
--                    Redis's clock on arrival, which is after the write
local hk = P .. 'h:' .. ARGV[2]
local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
if ARGV[3] == 's' then
  if redis.call('HGET', hk, 'pt') == ARGV[4] then redis.call('HDEL', hk, 'pt', 'pu') end
  if ARGV[5] == '1' then redis.call('HSET', hk, 'sentus', us) end
  return 0
end
local s = redis.call('HMGET', hk, 'pt', 'pu', 'sentus', 'iv')
if num(s[4], 0) <= 0 then return -1 end
if s[1] and num(s[2], 0) > now then return 1 end
local wait = num(s[3], 0) + num(s[4], 0) * 1000 - us
if wait > 0 then return math.ceil(wait / 1000) end
redis.call('HSET', hk, 'pt', ARGV[4], 'pu', now + tonumber(ARGV[5]))
return 0
