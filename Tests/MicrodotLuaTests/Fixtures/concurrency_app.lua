-- Workers, suspensions, backpressure, shared state and shutdown.
local microdot = require("microdot")
local shared = microdot.shared
local app = microdot.Microdot()

app:get("/whoami", function(req) return tostring(microdot.worker_id) end)

-- Keeps its worker's thread busy (no suspension) for `ms` milliseconds.
app:get("/spin", function(req)
  local seconds = req.args:get("ms", 100, tonumber) / 1000
  local start = os.clock()
  while os.clock() - start < seconds do end
  return tostring(microdot.worker_id)
end)

app:get("/sleep", function(req)
  microdot.sleep(req.args:get("s", 1, tonumber))
  return "slept"
end)

app:get("/fast", function(req) return "fast" end)

-- An endless stream of 64 KiB chunks: how many were produced, and whether
-- the generator was closed, are kept in microdot.shared.
app:get("/infinite", function(req)
  shared:set("produced", 0)
  shared:set("closed", false)
  local chunk = string.rep("x", 64 * 1024)
  return coroutine.wrap(function()
    local _ <close> = setmetatable({}, {__close = function() shared:set("closed", true) end})
    while true do
      shared:incr("produced", 1)
      coroutine.yield(chunk)
    end
  end)
end)

app:get("/produced", function(req)
  return {produced = shared:get("produced"), closed = shared:get("closed")}
end)

-- A clock, one tick per `every` seconds, `ticks` times (server-sent events).
app:get("/clock", function(req)
  local ticks, every = req.args:get("ticks", 5, tonumber), req.args:get("every", 0.2, tonumber)
  return coroutine.wrap(function()
    for i = 1, ticks do
      coroutine.yield("data: tick " .. i .. "\n\n")
      microdot.sleep(every)
    end
  end), {["Content-Type"] = "text/event-stream"}
end)

app:get("/incr", function(req)
  return {hits = shared:incr("hits", 1, 0), worker = microdot.worker_id}
end)

app:get("/hits", function(req) return {hits = shared:get("hits")} end)

app:get("/shutdown", function(req)
  app:shutdown()
  return "bye"
end)

return app
