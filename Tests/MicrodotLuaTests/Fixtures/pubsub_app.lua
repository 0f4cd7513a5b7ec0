-- microdot.pubsub across workers (PubSubTests.swift).
local microdot = require("microdot")
local pubsub = require("microdot.pubsub")
local with_sse = require("microdot.sse").with_sse
local app = microdot.Microdot()

-- An SSE feed of `channel`: a first event naming the worker, then every
-- message; a comment when 0.2 s pass without one (so a client that left is
-- noticed at the next write).
app:get("/events/<channel>", with_sse(function(req, sse, channel)
  local sub = pubsub.subscribe(channel)
  sse:send("worker " .. microdot.worker_id, { event = "hello" })
  while true do
    local message = sub:receive(0.2)
    if message then sse:send(message) else sse:send("ping", { comment = true }) end
  end
end))

app:post("/publish/<channel>/<int:n>", function(req, channel, n)
  for i = 1, n do pubsub.publish(channel, "msg-" .. i) end
  return "published"
end)

app:post("/publish-json/<channel>", function(req, channel)
  pubsub.publish(channel, req.json)
  return "published"
end)

-- Subscribes, reads nothing for `s` seconds, then everything queued.
app:get("/slow", function(req)
  local sub = pubsub.subscribe("slow")
  microdot.sleep(req.args:get("s", 0.5, tonumber))
  local got = {}
  while true do
    local message = sub:receive(0)
    if message == nil then break end
    got[#got + 1] = tonumber(message:match("%d+"))
  end
  local in_order = true
  for i = 2, #got do in_order = in_order and got[i] == got[i - 1] + 1 end
  return { count = #got, first = got[1], last = got[#got], dropped = sub.dropped, in_order = in_order }
end)

-- One message (or why none) within `timeout` seconds.
app:get("/receive/<channel>", function(req, channel)
  local sub = pubsub.subscribe(channel)
  local message, why = sub:receive(req.args:get("timeout", 1, tonumber))
  return { message = message, why = why }
end)

-- A subscription that belongs to no request (made in a timer), kept until
-- /kept/close.
local kept
app:post("/kept", function(req)
  microdot.timer.at(0, function() kept = pubsub.subscribe("kept") end)
  return "ok"
end)
app:post("/kept/close", function(req)
  kept:close()
  local message, why = kept:receive(1)
  return { message = message, why = why }
end)

-- As a WebSocket handler would: a spawned coroutine waits on the
-- subscription while this one does something else (a sleep, then a publish).
app:get("/two", function(req)
  local sub = pubsub.subscribe("two", "other")
  local waiter = microdot.spawn(function() return sub:receive(2) end)
  microdot.sleep(0.05)
  pubsub.publish("two", { hello = "there" })
  local message, channel = waiter:wait()
  return { message = message, channel = channel }
end)

-- Two coroutines waiting on one subscription: the second is refused.
app:get("/two-waiters", function(req)
  local sub = pubsub.subscribe("nobody")
  microdot.spawn(function() sub:receive(0.5) end)
  local ok, err = pcall(sub.receive, sub, 0.1)
  return { ok = ok, err = err }
end)

app:get("/bad/<what>", function(req, what)
  local ok, err
  if what == "channel" then
    ok, err = pcall(function() pubsub.publish(string.rep("c", 257), "x") end)
  elseif what == "big" then
    ok, err = pcall(function() pubsub.publish("c", string.rep("x", 1024 * 1024 + 1)) end)
  elseif what == "function" then
    ok, err = pcall(function() pubsub.publish("c", { f = print }) end)
  else
    ok, err = pcall(function() pubsub.subscribe() end)
  end
  return { ok = ok, err = err }
end)

return app
