-- microdot.redis against the private redis-server of RedisTests
-- (its URL in REDIS_URL).
local microdot = require("microdot")
local redis = require("microdot.redis")
local json = microdot.json
local app = microdot.Microdot()

local url = assert(os.getenv("REDIS_URL"), "REDIS_URL is not set")
local r = redis.connect(url)
local wide = redis.connect(url, { pool_size = 200 })
local narrow = redis.connect(url, { pool_size = 3 })
local short = redis.connect(url, { timeout = 0.2 })

-- At the top level a call blocks: the worker's loop is not running yet.
r:del("boot")
assert(r:set("boot", "top level") == "OK")
assert(r:get("boot") == "top level")

local function check(ok, message)
  if not ok then error(message, 2) end
end

local function equal(got, expected, what)
  check(got == expected, what .. ": expected " .. tostring(expected) .. ", got " .. tostring(got))
end

-- Every mapping, Lua to Redis and back.
app:get("/types", function(req)
  r:del("t:s", "t:i", "t:f", "t:l", "t:h", "t:big", "t:bin", "t:empty")
  equal(r:get("boot"), "top level", "the top level's value")
  -- strings are bytes
  local bin = "a\0b\r\n\255"
  equal(r:set("t:bin", bin), "OK", "status reply")
  equal(r:get("t:bin"), bin, "binary string")
  equal(r:set("t:empty", ""), "OK", "empty string")
  equal(r:get("t:empty"), "", "empty string back")
  local big = string.rep("x", 1024 * 1024)
  r:set("t:big", big)
  equal(r:get("t:big"), big, "1 MiB value")
  -- numbers: integers in decimal, floats as tostring writes them
  r:set("t:i", 42)
  equal(r:get("t:i"), "42", "integer argument")
  equal(r:incr("t:i"), 43, "integer reply")
  equal(math.type(r:incr("t:i")), "integer", "integer reply type")
  equal(r:incrby("t:i", -100), -56, "negative integer")
  r:set("t:i", math.maxinteger - 1)
  equal(r:incr("t:i"), math.maxinteger, "64-bit integer")
  r:set("t:f", 0.1)
  equal(r:get("t:f"), "0.1", "float argument")
  r:set("t:f", 2.0)
  equal(r:get("t:f"), "2.0", "integral float")
  equal(r:incrbyfloat("t:f", 0.5), "2.5", "INCRBYFLOAT answers a bulk string")
  -- nil
  equal(r:get("t:missing"), nil, "null bulk")
  equal(r:blpop("t:missing", 0.01), nil, "null array")
  -- arrays, with redis.null for their nulls
  r:rpush("t:l", "a", 1, 2.5)
  local list = r:lrange("t:l", 0, -1)
  equal(#list, 3, "array length")
  equal(list[1] .. list[2] .. list[3], "a12.5", "array elements")
  local mget = r:mget("t:bin", "t:missing", "t:empty")
  equal(#mget, 3, "array with a null")
  equal(mget[2], redis.null, "null element")
  equal(redis.null, json.null, "redis.null is json.null")
  equal(json.encode(r:lrange("t:missing", 0, -1)), "[]", "empty array stays an array")
  check(json.encode(mget):find(',null,""%]$'), "JSON of an array reply: " .. json.encode(mget))
  -- nested arrays, and an error inside one
  local nested = r:eval("return {1, {'two', {3}}, redis.error_reply('inner')}", 0)
  equal(nested[1], 1, "nested integer")
  equal(nested[2][1], "two", "nested string")
  equal(nested[2][2][1], 3, "nested twice")
  equal(getmetatable(nested[3]), redis.RedisError, "error inside an array")
  check(nested[3].message:find("inner$"), "its message: " .. tostring(nested[3].message))
  -- hashes
  r:hset("t:h", "name", "Ann", "age", 33)
  local h = r:hgetall("t:h")
  equal(h.name, "Ann", "hgetall field")
  equal(h.age, "33", "hgetall number")
  equal(next(r:hgetall("t:missing")), nil, "hgetall of nothing")
  -- set's options
  equal(r:set("t:s", "v", { nx = true }), "OK", "nx on a new key")
  equal(r:set("t:s", "w", { nx = true }), nil, "nx on an existing key")
  equal(r:set("t:s", "w", { xx = true, ex = 100 }), "OK", "xx and ex")
  check(r:ttl("t:s") > 90, "ex sets the TTL")
  r:set("t:s", "v", { px = 50000 })
  check(r:pttl("t:s") > 40000, "px sets the TTL")
  r:set("t:s", "v", "EX", 7)
  equal(r:ttl("t:s"), 7, "raw SET arguments")
  equal(r:call("PING"), "PONG", "call")
  equal(r:echo("hi"), "hi", "echo")
  return "ok"
end)

-- Errors: a table of class RedisError naming the server.
app:get("/errors", function(req)
  r:set("e:s", "text")
  local ok, err = pcall(r.lpush, r, "e:s", "x")
  check(not ok, "WRONGTYPE raises")
  equal(getmetatable(err), redis.RedisError, "class")
  equal(err.server, url:match("//(.*)$"), "server")
  check(err.message:find("^WRONGTYPE"), "message " .. tostring(err.message))
  equal(tostring(err), "redis " .. err.server .. ": " .. err.message, "tostring")
  ok, err = pcall(r.call, r, "NOSUCHCOMMAND")
  check(not ok and tostring(err):find("unknown command"), tostring(err))
  local down = redis.connect("redis://127.0.0.1:1")
  ok, err = pcall(down.get, down, "x")
  check(not ok, "nothing listens on port 1")
  equal(tostring(err), "redis 127.0.0.1:1: connection refused", "refused")
  ok, err = pcall(function()
    local reply = r:set("k", true) -- the line the error names
    return reply
  end)
  check(not ok and err:find("redis_app.lua:%d+: redis: argument 3 must be a string or a number, got a boolean"),
    tostring(err))
  ok, err = pcall(r.multi, r)
  check(not ok and err:find("MULTI cannot be sent on its own"), tostring(err))
  ok, err = pcall(redis.connect, "http://x")
  check(not ok and err:find("not a redis:// URL"), tostring(err))
  ok, err = pcall(redis.connect, url, { pool = 3 })
  check(not ok and err:find("unknown option 'pool'"), tostring(err))
  return "ok"
end)

-- An error nobody catches: the app's error handler gets the RedisError.
app:errorhandler(redis.RedisError, function(req, err)
  return { redis_error = tostring(err) }, 503
end)
app:get("/uncaught", function(req)
  return r:lpush("e:s", "x")
end)

-- A call that takes 100 ms on the server, on the pool of 200.
app:get("/blpop", function(req)
  local seconds = tonumber(req.args.s or "0.1")
  local pool = req.args.pool == "narrow" and narrow or wide
  return tostring(pool:blpop("nothing:" .. req.args.k, seconds))
end)

-- Timeouts: the call fails, the next one works on a new connection.
app:get("/timeout", function(req)
  local started = microdot.time and microdot.time() or os.clock()
  local ok, err = pcall(short.blpop, short, "nothing", 2)
  check(not ok, "the call timed out")
  equal(tostring(err), "redis " .. err.server .. ": timeout after 0.2 s", "timeout message")
  equal(short:ping(), "PONG", "the next call")
  return tostring(started)
end)

app:get("/get", function(req)
  return r:get(req.args.k) or "nil"
end)

app:get("/pipeline", function(req)
  r:del("p:n", "p:s")
  local p = r:pipeline()
  p:set("p:s", "v"):get("p:s"):incr("p:n"):lpush("p:s", "x"):call("INCRBY", "p:n", 10):hgetall("p:missing")
  local replies = p:commit()
  equal(#replies, 6, "six replies")
  equal(replies[1], "OK", "set")
  equal(replies[2], "v", "get")
  equal(replies[3], 1, "incr")
  equal(getmetatable(replies[4]), redis.RedisError, "the error stays in its slot")
  equal(replies[5], 11, "after the error")
  equal(next(replies[6]), nil, "hgetall in a pipeline")
  -- a transaction
  p:multi():incr("p:n"):incr("p:n"):exec()
  replies = p:commit()
  equal(replies[1], "OK", "MULTI")
  equal(replies[2], "QUEUED", "queued")
  equal(replies[4][1], 12, "EXEC's first")
  equal(replies[4][2], 13, "EXEC's second")
  equal(#p:commit(), 0, "an empty pipeline")
  local ok, err = pcall(function() return r:pipeline():multi():incr("p:n"):commit() end)
  check(not ok and err:find("MULTI without EXEC"), tostring(err))
  return "ok"
end)

app:get("/subscribe", function(req)
  local sub = r:subscribe("news", "other")
  equal(r:publish("news", "hello"), 1, "one subscriber")
  r:publish("other", "second")
  local message, channel = sub:receive(1)
  equal(message, "hello", "message")
  equal(channel, "news", "channel")
  message, channel = sub:receive(1)
  equal(message .. " " .. channel, "second other", "the other channel")
  message, channel = sub:receive(0.1)
  equal(message, nil, "nothing more")
  equal(channel, "timeout", "timeout")
  equal(sub.dropped, 0, "none dropped")
  sub:close()
  message, channel = sub:receive(1)
  equal(message, nil, "no message once closed")
  equal(channel, "closed", "closed")
  return "ok"
end)

-- A subscription left open: it closes when the request ends.
app:get("/subscribe-and-leave", function(req)
  local sub = r:subscribe("left")
  equal(sub:receive(0.05), nil, "nothing")
  return tostring(r:pubsub("NUMSUB", "left")[2])
end)

-- A subscriber that reads nothing drops the oldest past 1,000.
app:get("/flood", function(req)
  local sub = r:subscribe("flood")
  local p = r:pipeline()
  for i = 1, 1200 do p:publish("flood", i) end
  p:commit()
  r:ping()
  microdot.sleep(0.2)
  local first = sub:receive(1)
  local dropped = sub.dropped
  sub:close()
  return first .. " " .. dropped
end)

return app
