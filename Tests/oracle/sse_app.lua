-- The twin of sse_app.py, plus what only a socket shows: a handler closed
-- when its client leaves mid-sleep.
local microdot = require("microdot")
local with_sse = require("microdot.sse").with_sse

local app = microdot.Microdot()

app:get("/sse", with_sse(function(req, sse)
  sse:send("foo")
  sse:send("bar", {event = "test"})
  sse:send({foo = "bar"})
  sse:send({42, "foo", "bar"})
  sse:send(12.5)
  sse:send(7)
end))

app:get("/fields", with_sse(function(req, sse)
  sse:send("a", {event = "e", event_id = "7", retry = 2.5})
  sse:send("b", {event = "", event_id = "", retry = 0})
  sse:send("keepalive", {comment = true})
  sse:send("c", {event_id = "x1"})
end))

app:get("/ticks/<int:n>", with_sse(function(req, sse, n)
  for i = 1, n do
    microdot.sleep(0.3)
    sse:send(i, {event = "tick", event_id = tostring(i)})
  end
end))

-- Sends one event, then sleeps long; records when its coroutine is closed.
app:get("/watch/<name>", with_sse(function(req, sse, name)
  local _ <close> = setmetatable({}, {__close = function()
    microdot.shared:set("closed:" .. name, "closed")
  end})
  sse:send("started")
  microdot.sleep(60)
  sse:send("never")
end))

app:get("/closed/<name>", function(req, name)
  return microdot.shared:get("closed:" .. name) or "open"
end)

-- A slow reader: a large event stream that cannot all fit the socket.
app:get("/flood", with_sse(function(req, sse)
  local line = string.rep("x", 8192)
  for i = 1, 2000 do sse:send(line, {event_id = tostring(i)}) end
  microdot.shared:set("flood", "finished")
end))

app:get("/flood-state", function(req)
  return microdot.shared:get("flood") or "running"
end)

return app
