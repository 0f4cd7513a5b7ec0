-- Chat: WebSocket clients on any worker talk through microdot.pubsub, a
-- timer on worker 1 broadcasts a heartbeat, and /events is a read-only
-- server-sent-events feed of the same channel.
--   microdot-lua examples/chat/app.lua --workers 2
-- then open http://127.0.0.1:5000/ in two browser tabs.
local microdot = require("microdot")
local pubsub = require("microdot.pubsub")
local with_websocket = require("microdot.websocket").with_websocket
local with_sse = require("microdot.sse").with_sse

local CHANNEL = "chat"
-- Seconds between heartbeats (the tests make it short).
local HEARTBEAT = tonumber(os.getenv("CHAT_HEARTBEAT") or "") or 10
local MAX_NAME, MAX_TEXT = 32, 1000

local app = microdot.Microdot()

microdot.on_start(function()
  if microdot.worker_id == 1 then
    microdot.timer.every(HEARTBEAT, function()
      pubsub.publish(CHANNEL, {kind = "heartbeat", time = os.time()})
    end)
  end
end)

app:get("/", function()
  return microdot.send_file("index.html")
end)

app:get("/ws", with_websocket(function(req, ws)
  local name = req.args:get("name", "anonymous"):sub(1, MAX_NAME)
  local sub = pubsub.subscribe(CHANNEL)
  ws:send(microdot.json.encode({kind = "welcome", worker = microdot.worker_id}))
  -- The channel is forwarded by a coroutine of its own while this one
  -- waits on the socket; both end with the request.
  microdot.spawn(function()
    while true do
      local message = sub:receive()
      if not message then return end
      ws:send(message)
    end
  end)
  while true do
    local text, binary = ws:receive()
    if not binary and #text > 0 then
      pubsub.publish(CHANNEL, {
        kind = "message", from = name, text = text:sub(1, MAX_TEXT), worker = microdot.worker_id,
      })
    end
  end
end))

app:get("/events", with_sse(function(req, sse)
  local sub = pubsub.subscribe(CHANNEL)
  while true do
    local message = sub:receive(15)
    if message then
      sse:send(message, {event = "chat"})
    else
      sse:send("keep-alive", {comment = true})
    end
  end
end))

return app
