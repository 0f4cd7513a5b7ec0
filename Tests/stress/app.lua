-- The app scripts/stress runs against.
local microdot = require("microdot")
local shared = microdot.shared
local app = microdot.Microdot()

app:get("/", function(req) return "Hello, World!" end)

-- Echoes an id, so that pipelined responses can be matched to requests.
app:route("/echo/<id>", {"GET", "POST"}, function(req, id)
  return id .. ":" .. #req.body
end)

-- An endless stream; opened and closed generators are counted.
app:get("/stream", function(req)
  shared:incr("streams_opened", 1, 0)
  return coroutine.wrap(function()
    local _ <close> = setmetatable({}, {__close = function() shared:incr("streams_closed", 1, 0) end})
    local chunk = string.rep("s", 1024)
    while true do
      coroutine.yield(chunk)
      microdot.sleep(0.001)
    end
  end)
end)

app:get("/streams", function(req)
  return {opened = shared:get("streams_opened") or 0, closed = shared:get("streams_closed") or 0}
end)

-- An echo WebSocket, for the WebSocket phase.
app:get("/ws", require("microdot.websocket").with_websocket(function(req, ws)
  while true do ws:send(ws:receive()) end
end))

return app
