-- pace: the request to host ARGV[2] is about to leave. Returns 0 and marks
-- the send if the host's interval has passed since its last send, else the
-- ms to wait. (Claims are spaced by the interval already; this absorbs the
-- delay between a claim and its send, which differs between requests.)
local hk = P .. 'h:' .. ARGV[2]
local s = redis.call('HMGET', hk, 'sent', 'iv')
local wait = num(s[1], 0) + num(s[2], 0) - now
if wait > 0 then return math.ceil(wait) end
redis.call('HSET', hk, 'sent', now)
return 0
