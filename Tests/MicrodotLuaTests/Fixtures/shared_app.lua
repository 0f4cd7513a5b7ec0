-- microdot.shared and microdot.pubsub under --shared (SharedRedisTests.swift):
-- two servers (or processes) given one Redis URL share them.
local microdot = require("microdot")
local pubsub = require("microdot.pubsub")
local app = microdot.Microdot()
local shared = microdot.shared

-- Set at the top level (it blocks there): every server sees it.
shared:set("loaded", true)

-- Every type a value may have, tables nested, odd bytes and big numbers.
local function sample()
  return {
    s = "h\0\255llo", empty = "", i = 42, neg = -7, big = math.maxinteger, small = math.mininteger,
    f = 0.1, third = 1 / 3, whole = 2.0, huge = 1e300, inf = math.huge, t = true, no = false,
    list = { 1, "two", 3.5, { nested = { true } } }, map = { a = 1, ["b c"] = "x" },
  }
end

local function same(a, b, path)
  if type(a) ~= type(b) then return path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) ~= "table" then
    if a ~= b or math.type(a) ~= math.type(b) then
      return path .. ": " .. tostring(a) .. " vs " .. tostring(b)
    end
    return nil
  end
  for k, v in pairs(a) do
    local problem = same(v, b[k], path .. "." .. tostring(k))
    if problem then return problem end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) .. ": extra" end
  end
  return nil
end

app:post("/put/<name>", function(req, name)
  for k, v in pairs(sample()) do assert(shared:set(name .. ":" .. k, v)) end
  assert(shared:set(name .. ":all", sample()))
  return "ok"
end)

app:get("/check/<name>", function(req, name)
  for k, v in pairs(sample()) do
    local problem = same(v, shared:get(name .. ":" .. k), k)
    if problem then return problem end
  end
  return same(sample(), shared:get(name .. ":all"), "all") or "ok"
end)

-- `n` increments, one after another (each suspends the request).
app:post("/incr/<int:n>", function(req, n)
  local last
  for _ = 1, n do last = shared:incr("hits", 1, 0) end
  return tostring(last)
end)

app:get("/get/<key>", function(req, key)
  local value = shared:get(key)
  return { value = value, type = math.type(value) or type(value) }
end)

app:post("/ttl/<key>", function(req, key)
  local ok, err, forcible = shared:set(key, "soon gone", tonumber(req.args:get("s", "0.2")))
  return tostring(ok) .. " " .. tostring(err) .. " " .. tostring(forcible)
end)

-- The other methods, with the local store's results.
app:get("/api", function(req)
  local checks = {}
  local function expect(label, got, want)
    if got ~= want then checks[#checks + 1] = label .. ": got " .. tostring(got) .. ", want " .. tostring(want) end
  end
  shared:delete("a")
  expect("add new", shared:add("a", 1), true)
  expect("add again", select(2, shared:add("a", 2)), "exists")
  expect("replace", shared:replace("a", 3), true)
  expect("get", shared:get("a"), 3)
  expect("replace missing", select(2, shared:replace("nope", 1)), "not found")
  expect("incr missing", select(2, shared:incr("nope", 1)), "not found")
  expect("incr float", shared:incr("a", 0.5), 3.5)
  shared:set("n", math.maxinteger)
  expect("incr overflow", math.type(shared:incr("n", 1)), "float")
  shared:set("n", -5)
  expect("incr negative", shared:incr("n", 7), 2)
  expect("incr int", math.type(shared:incr("n", 1)), "integer")
  shared:set("word", "text")
  local ok, err = pcall(function() shared:incr("word", 1) end)
  expect("incr text", ok or err:match("shared_app.lua:%d+: (.*)"), "shared:incr: the value of word is not a number")
  ok, err = pcall(function() shared:set("f", print) end)
  expect("set function", ok or (err:match("shared_app.lua:%d+: shared:set stores") ~= nil), true)
  ok, err = pcall(function() shared:set(1, "x") end)
  expect("number key", ok or err:match("shared_app.lua:%d+: (.*)"), "shared:set expects a string key")
  expect("set nil", shared:set("word", nil), true)
  expect("deleted", shared:get("word"), nil)
  shared:delete("a")
  expect("delete", shared:get("a"), nil)
  shared:set("k1", 1)
  shared:set("k2", 2)
  local keys = {}
  for _, key in ipairs(shared:keys(0)) do keys[key] = true end
  expect("keys", keys.k1 and keys.k2, true)
  expect("keys limit", #shared:keys(1), 1)
  expect("capacity", shared:capacity() > 0, true)
  expect("free", shared:free_space() >= 0, true)
  return #checks == 0 and "ok" or table.concat(checks, "\n")
end)

-- Redis down: the error names this line, the server goes on.
app:get("/down", function(req)
  local ok, err = pcall(function() shared:get("x") end)
  return { ok = ok, err = not ok and tostring(err) or nil }
end)

app:get("/health", function(req) return "up" end)

-- Pub/sub: one message (or why none) within `timeout` seconds; the
-- subscription is confirmed by Redis before /subscribed answers true.
app:get("/receive/<channel>", function(req, channel)
  local sub = pubsub.subscribe(channel)
  local message, why = sub:receive(tonumber(req.args:get("timeout", "2")))
  return { message = message, why = message == nil and why or nil }
end)

app:post("/publish/<channel>", function(req, channel)
  local ok, err = pcall(function() pubsub.publish(channel, req.body) end)
  return { ok = ok, err = err and tostring(err) }
end)

return app
