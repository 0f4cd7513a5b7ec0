-- The app scripts/test-cluster runs three times behind nginx. Every answer
-- names the instance (CLUSTER_INSTANCE) so the test knows who served it.
local microdot = require("microdot")
local pubsub = require("microdot.pubsub")
local session = require("microdot.session")
local with_sse = require("microdot.sse").with_sse
local websocket = require("microdot.websocket")

local INSTANCE = os.getenv("CLUSTER_INSTANCE") or "?"
local CHANNEL = "cluster"

local app = microdot.Microdot()
session.Session(app, {secret_key = assert(os.getenv("CLUSTER_SECRET"), "CLUSTER_SECRET is not set")})

local function answer(body, status)
  body.instance = INSTANCE
  return body, status or 200, {["X-Instance"] = INSTANCE}
end

app:get("/whoami", function(req)
  return answer({client_addr = req.client_addr, scheme = req.scheme})
end)

-- Idempotent and a little slow, so that some requests are under way when
-- an instance is stopped.
app:get("/work", function(req)
  microdot.sleep(0.02)
  return answer({})
end)

app:post("/hits", function(req)
  return answer({hits = microdot.shared:incr("hits", 1, 0)})
end)

app:get("/hits", function(req)
  return answer({hits = microdot.shared:get("hits")})
end)

app:post("/login", session.with_session(function(req, s)
  s.user = req.json.user
  s.by = INSTANCE
  s:save()
  return answer({})
end))

app:get("/me", session.with_session(function(req, s)
  return answer({user = s.user, by = s.by})
end))

app:post("/publish", function(req)
  pubsub.publish(CHANNEL, req.json.message)
  return answer({})
end)

-- Subscribes first, then says who it is: once the client has the hello,
-- the subscription exists.
app:get("/events", with_sse(function(req, sse)
  local sub = pubsub.subscribe(CHANNEL)
  sse:send(INSTANCE, {event = "hello"})
  while true do
    local message = sub:receive(0.5)
    if message then sse:send(message) else sse:send("ping", {comment = true}) end
  end
end))

-- A coroutine of its own forwards the channel while the handler waits for
-- the client's close (receive raises then, and the request ends).
app:get("/ws", websocket.with_websocket(function(req, ws)
  local sub = pubsub.subscribe(CHANNEL)
  ws:send("hello " .. INSTANCE)
  microdot.spawn(function()
    while true do
      ws:send((sub:receive()))
    end
  end)
  while true do
    ws:receive()
  end
end))

return app
