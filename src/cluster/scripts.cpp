// The cluster's Lua scripts (see scripts.h). One prelude of shared functions, then each body.
#include "scripts.h"

#include "ringcast/core/crypto.h"

namespace ringcast::cluster {

namespace {

// Keys ({P} is the prefix, {A} an app id, {C} a channel, {N} a node id):
//   {P}:nodes                      zset node -> when it expires (Redis's clock, ms)
//   {P}:node:{N}:members           set "A\nC\nuser" this node holds a connection of
//   {P}:node:{N}:channels          set "A\nC" this node has subscribers of
//   {P}:node:{N}:users             set "A\nuser" signed in on this node (watchlists)
//   {P}:node:{N}:apps              set of apps whose connections this node reports
//   {P}:app:{A}:channel:{C}:subs   hash node -> that node's subscribers
//   {P}:app:{A}:channel:{C}:members  hash user -> user_info (JSON text)
//   {P}:app:{A}:channel:{C}:nodes  hash user -> how many nodes hold a connection of the user
//   {P}:app:{A}:occupied           set of occupied channels
//   {P}:app:{A}:connections        hash node -> WebSocket connections there
//   {P}:app:{A}:online             hash user -> how many nodes hold a signed-in connection of it
//   {P}:app:{A}:cache:{C}          a cache channel's last event, with the cache TTL
//   {P}:app:{A}:cache_miss:{C}     present while a cache_miss webhook stands for the empty spell
//   {P}:app:{A}:rate:{kind}:{s}    reads or events taken in unix second s (expires after 2 s)
//   {P}:pending                    zset held webhook ("v\nA\nC\n", "r\nA\nC\nuser") -> due ms
// Announcements on {P}:broadcast: "rcs <op> <except> <skip node> <#A> <#C> <#user>\n" then
// A, C, user and the payload (op a: member added, payload user_info; r: removed; c: count;
// u: a signed-in user came online, f: went offline, both with C empty). Webhooks go to the node
// that sends a channel's webhooks as "rch kind\nA\nC\nuser" on {P}:node:{id}.
constexpr std::string_view prelude = R"lua(
local P, N, debounce = ARGV[1], ARGV[2], tonumber(ARGV[3])
local events = {}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function base(A, C) return P .. ':app:' .. A .. ':channel:' .. C end
local function node_key(n, what) return P .. ':node:' .. n .. ':' .. what end
local function split2(e) return string.match(e, '^([^\n]*)\n(.*)$') end
local function split3(e) return string.match(e, '^([^\n]*)\n([^\n]*)\n(.*)$') end

local function announce(op, A, C, U, payload, except, skip)
  redis.call('PUBLISH', P .. ':broadcast',
    string.format('rcs %s %s %s %d %d %d\n', op, except, skip, #A, #C, #U) .. A .. C .. U .. payload)
end

-- Every webhook of an app is sent by one node, chosen by the app among the live ones, and
-- handed to it on its own pub/sub channel in the order it was decided here: that node's outbox
-- keeps the events in order for each target, retries included, and batches and bounds them as
-- one server would. An app's sender changes only when nodes come or go.
local live = nil
local function send_webhook(e, A)
  if not live then
    live = redis.call('ZRANGEBYSCORE', P .. ':nodes', now_ms(), '+inf')
    table.sort(live)
  end
  local to = N
  if #live > 0 then
    to = live[(tonumber(string.sub(redis.sha1hex(A), 1, 7), 16) % #live) + 1]
  end
  redis.call('PUBLISH', P .. ':node:' .. to, 'rch ' .. e)
end

-- A webhook event, or (vacated, member removed) held for the de-bounce delay, which the
-- opposite event cancels, so a page reload anywhere in the cluster sends nothing.
local function webhook(kind, A, C, U)
  if debounce < 0 then return end
  local held = P .. ':pending'
  if kind == 'o' then
    if redis.call('ZREM', held, 'v\n' .. A .. '\n' .. C .. '\n') == 1 then return end
  elseif kind == 'a' then
    if redis.call('ZREM', held, 'r\n' .. A .. '\n' .. C .. '\n' .. U) == 1 then return end
  elseif (kind == 'v' or kind == 'r') and debounce > 0 then
    redis.call('ZADD', held, now_ms() + debounce, kind .. '\n' .. A .. '\n' .. C .. '\n' .. U)
    return
  end
  send_webhook(kind .. '\n' .. A .. '\n' .. C .. '\n' .. U, A)
end

local function subscriptions(A, C)
  local n = 0
  for _, v in ipairs(redis.call('HVALS', base(A, C) .. ':subs')) do n = n + tonumber(v) end
  return n
end

-- A channel is occupied while it has a subscriber or a member on any node.
local function occupancy(A, C)
  local subs = subscriptions(A, C)
  local occupied = subs > 0 or redis.call('HLEN', base(A, C) .. ':members') > 0
  local set = P .. ':app:' .. A .. ':occupied'
  if occupied then
    if redis.call('SADD', set, C) == 1 then webhook('o', A, C, '') end
  elseif redis.call('SREM', set, C) == 1 then
    webhook('v', A, C, '')
  end
  return subs
end

local function join(n, A, C, U, info, except, skip, max)
  local b = base(A, C)
  local entry = A .. '\n' .. C .. '\n' .. U
  if redis.call('SISMEMBER', node_key(n, 'members'), entry) == 1 then
    redis.call('HSET', b .. ':members', U, info) -- the latest auth wins
    return true
  end
  local holders = tonumber(redis.call('HGET', b .. ':nodes', U) or '0')
  if holders == 0 and max > 0 and redis.call('HLEN', b .. ':members') >= max then return false end
  redis.call('SADD', node_key(n, 'members'), entry)
  redis.call('HINCRBY', b .. ':nodes', U, 1)
  redis.call('HSET', b .. ':members', U, info)
  if holders == 0 then
    occupancy(A, C)
    webhook('a', A, C, U)
    announce('a', A, C, U, info, except, skip)
  end
  return true
end

local function leave(n, A, C, U)
  local b = base(A, C)
  if redis.call('SREM', node_key(n, 'members'), A .. '\n' .. C .. '\n' .. U) == 0 then return end
  if redis.call('HINCRBY', b .. ':nodes', U, -1) > 0 then return end
  redis.call('HDEL', b .. ':nodes', U)
  redis.call('HDEL', b .. ':members', U)
  announce('r', A, C, U, '', '0', '-')
  webhook('r', A, C, U)
  occupancy(A, C)
end

local function set_count(n, A, C, count)
  local entry = A .. '\n' .. C
  if count > 0 then
    redis.call('HSET', base(A, C) .. ':subs', n, count)
    redis.call('SADD', node_key(n, 'channels'), entry)
  else
    redis.call('HDEL', base(A, C) .. ':subs', n)
    redis.call('SREM', node_key(n, 'channels'), entry)
  end
  return occupancy(A, C)
end

-- A signed-in user's connections, for watchlists: online while any node holds one.
local function user_on(n, A, U, skip)
  if redis.call('SADD', node_key(n, 'users'), A .. '\n' .. U) == 1 and
     redis.call('HINCRBY', P .. ':app:' .. A .. ':online', U, 1) == 1 then
    announce('u', A, '', U, '', '0', skip)
  end
end

local function user_off(n, A, U)
  if redis.call('SREM', node_key(n, 'users'), A .. '\n' .. U) == 0 then return end
  local h = P .. ':app:' .. A .. ':online'
  if redis.call('HINCRBY', h, U, -1) <= 0 then
    redis.call('HDEL', h, U)
    announce('f', A, '', U, '', '0', '-')
  end
end

local function reap(d)
  for _, e in ipairs(redis.call('SMEMBERS', node_key(d, 'members'))) do
    local A, C, U = split3(e)
    leave(d, A, C, U)
  end
  for _, e in ipairs(redis.call('SMEMBERS', node_key(d, 'channels'))) do
    local A, C = split2(e)
    set_count(d, A, C, 0)
  end
  for _, e in ipairs(redis.call('SMEMBERS', node_key(d, 'users'))) do
    local A, U = split2(e)
    user_off(d, A, U)
  end
  for _, A in ipairs(redis.call('SMEMBERS', node_key(d, 'apps'))) do
    redis.call('HDEL', P .. ':app:' .. A .. ':connections', d)
  end
  redis.call('DEL', node_key(d, 'members'), node_key(d, 'channels'), node_key(d, 'users'), node_key(d, 'apps'))
  redis.call('ZREM', P .. ':nodes', d)
  events[#events + 1] = 'd\n' .. d .. '\n\n'
end

-- A channel's members as "<#id> <#info>\n<id><info>" each, sorted by id.
local function member_list(A, C)
  local all = redis.call('HGETALL', base(A, C) .. ':members')
  local ids, info = {}, {}
  for i = 1, #all, 2 do
    ids[#ids + 1] = all[i]
    info[all[i]] = all[i + 1]
  end
  table.sort(ids)
  local out = {}
  for i, id in ipairs(ids) do out[i] = string.format('%d %d\n', #id, #info[id]) .. id .. info[id] end
  return table.concat(out)
end
)lua";

constexpr std::string_view join_body = R"lua(
local A, C, U, info, except, max, token = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10]
local reply = 'full\n'
if join(N, A, C, U, info, except, '-', max) then reply = 'ok\n' .. member_list(A, C) end
redis.call('PUBLISH', P .. ':node:' .. N, 'rcj ' .. token .. ' ' .. reply)
return events
)lua";

constexpr std::string_view leave_body = R"lua(
leave(N, ARGV[4], ARGV[5], ARGV[6])
return events
)lua";

constexpr std::string_view count_body = R"lua(
local A, C = ARGV[4], ARGV[5]
local before = subscriptions(A, C)
local after = set_count(N, A, C, tonumber(ARGV[6]))
if after ~= before then
  if ARGV[7] == '1' and after > 0 then announce('c', A, C, '', tostring(after), '0', '-') end
  if debounce >= 0 then send_webhook('n\n' .. A .. '\n' .. C .. '\n' .. after, A) end
end
return events
)lua";

constexpr std::string_view tick_body = R"lua(
local ttl = tonumber(ARGV[4])
local now = now_ms()
local nodes = P .. ':nodes'
local own = redis.call('ZSCORE', nodes, N)
redis.call('ZADD', nodes, now + ttl, N)
-- Only a node whose own heartbeats were on time judges the others: after a stall of Redis
-- itself (CLIENT PAUSE, a slow fork) every node is late, and none may take the rest for dead.
if own and tonumber(own) >= now then
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', '(' .. now, 'LIMIT', 0, 8)) do reap(d) end
end
if debounce >= 0 then
  local held = P .. ':pending'
  for _, e in ipairs(redis.call('ZRANGEBYSCORE', held, '-inf', now, 'LIMIT', 0, 256)) do
    redis.call('ZREM', held, e)
    send_webhook(e, string.match(e, '^.\n([^\n]*)\n'))
  end
end
return {own and 0 or 1, events}
)lua";

constexpr std::string_view restore_body = R"lua(
redis.call('ZADD', P .. ':nodes', now_ms() + tonumber(ARGV[4]), N)
local i = 5
local function section(width, each)
  local n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    each(i)
    i = i + width
  end
end
local counted, held, joins, signed, users = {}, {}, {}, {}, {}
section(3, function(j)
  counted[ARGV[j] .. '\n' .. ARGV[j + 1]] = true
  set_count(N, ARGV[j], ARGV[j + 1], tonumber(ARGV[j + 2]))
end)
for _, e in ipairs(redis.call('SMEMBERS', node_key(N, 'channels'))) do
  if not counted[e] then
    local A, C = split2(e)
    set_count(N, A, C, 0)
  end
end
section(4, function(j)
  held[ARGV[j] .. '\n' .. ARGV[j + 1] .. '\n' .. ARGV[j + 2]] = true
  joins[#joins + 1] = {ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]}
end)
for _, e in ipairs(redis.call('SMEMBERS', node_key(N, 'members'))) do
  if not held[e] then
    local A, C, U = split3(e)
    leave(N, A, C, U)
  end
end
-- Members and users the cluster did not know are announced to the other nodes only: this
-- node's clients heard of them when they came (Redis could not be told then).
for _, j in ipairs(joins) do join(N, j[1], j[2], j[3], j[4], '0', N, 0) end
section(2, function(j)
  signed[ARGV[j] .. '\n' .. ARGV[j + 1]] = true
  users[#users + 1] = {ARGV[j], ARGV[j + 1]}
end)
for _, e in ipairs(redis.call('SMEMBERS', node_key(N, 'users'))) do
  if not signed[e] then
    local A, U = split2(e)
    user_off(N, A, U)
  end
end
for _, u in ipairs(users) do user_on(N, u[1], u[2], N) end
return events
)lua";

constexpr std::string_view connections_body = R"lua(
for i = 4, #ARGV - 1, 2 do
  local A, here = ARGV[i], tonumber(ARGV[i + 1])
  local h = P .. ':app:' .. A .. ':connections'
  if here > 0 then redis.call('HSET', h, N, here) else redis.call('HDEL', h, N) end
  redis.call('SADD', node_key(N, 'apps'), A)
end
return events
)lua";

constexpr std::string_view admit_body = R"lua(
local A, limit = ARGV[4], tonumber(ARGV[5])
local h = P .. ':app:' .. A .. ':connections'
local sum = 0
for _, v in ipairs(redis.call('HVALS', h)) do sum = sum + tonumber(v) end
if sum >= limit then return 0 end
redis.call('HINCRBY', h, N, 1)
redis.call('SADD', node_key(N, 'apps'), A)
return 1
)lua";

constexpr std::string_view members_body = R"lua(
for i = 4, #ARGV - 1, 2 do
  local A, C = ARGV[i], ARGV[i + 1]
  redis.call('PUBLISH', P .. ':node:' .. N,
    string.format('rcv %d %d\n', #A, #C) .. A .. C .. member_list(A, C))
end
return events
)lua";

constexpr std::string_view rate_body = R"lua(
local second = redis.call('TIME')[1]
local key = P .. ':app:' .. ARGV[4] .. ':rate:' .. ARGV[5] .. ':' .. second
local amount, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local used = redis.call('INCRBY', key, amount)
if used == amount then redis.call('PEXPIRE', key, 2000) end
if used > limit then
  redis.call('DECRBY', key, amount) -- a refused request takes nothing
  return 0
end
return 1
)lua";

constexpr std::string_view user_body = R"lua(
if ARGV[6] == '1' then user_on(N, ARGV[4], ARGV[5], '-') else user_off(N, ARGV[4], ARGV[5]) end
return events
)lua";

constexpr std::string_view retire_body = R"lua(
reap(N)
return events
)lua";

constexpr std::string_view cache_get_body = R"lua(
local A, C = ARGV[4], ARGV[5]
local v = redis.call('GET', P .. ':app:' .. A .. ':cache:' .. C)
if v then return {v, 0} end
local first = redis.call('SET', P .. ':app:' .. A .. ':cache_miss:' .. C, '1', 'NX', 'PX', ARGV[6])
return {'', first and 1 or 0}
)lua";

constexpr std::string_view channel_body = R"lua(
local A = ARGV[4]
local out = {}
for i = 5, #ARGV do
  local C = ARGV[i]
  local key = P .. ':app:' .. A .. ':cache:' .. C
  local v = redis.call('GET', key)
  local ttl = 0
  if v then ttl = redis.call('PTTL', key) else v = '' end
  for _, x in ipairs({subscriptions(A, C), redis.call('HLEN', base(A, C) .. ':members'), v, ttl}) do
    out[#out + 1] = x
  end
end
return out
)lua";

constexpr std::string_view channels_body = R"lua(
local A, prefix = ARGV[4], ARGV[5]
local out = {}
for _, C in ipairs(redis.call('SMEMBERS', P .. ':app:' .. A .. ':occupied')) do
  if string.sub(C, 1, #prefix) == prefix and string.sub(C, 1, 1) ~= '#' then
    out[#out + 1] = C
    out[#out + 1] = subscriptions(A, C)
    out[#out + 1] = redis.call('HLEN', base(A, C) .. ':members')
  end
end
return out
)lua";

script make(std::string_view name, std::string_view body) {
    script s;
    s.name = name;
    s.text = std::string(prelude) + std::string(body);
    s.sha = core::sha1_hex(s.text);
    return s;
}

} // namespace

scripts::scripts()
    : join(make("join", join_body)), leave(make("leave", leave_body)), count(make("count", count_body)),
      tick(make("tick", tick_body)), restore(make("restore", restore_body)), user(make("user", user_body)),
      rate(make("rate", rate_body)), members(make("members", members_body)),
      connections(make("connections", connections_body)), admit(make("admit", admit_body)),
      retire(make("retire", retire_body)), cache_get(make("cache_get", cache_get_body)),
      channel(make("channel", channel_body)), channels(make("channels", channels_body)) {}

} // namespace ringcast::cluster
