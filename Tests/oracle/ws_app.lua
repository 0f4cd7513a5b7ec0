-- WebSocket routes for test_websocket.py (ws_app.py is Python Microdot's
-- twin of /echo, for the handshake's bytes).
local microdot = require("microdot")
local websocket = require("microdot.websocket")
local with_websocket = websocket.with_websocket

local app = microdot.Microdot()
local stats = { ended = 0, after = 0, served = 0 }

app:before_request(function(req)
  if req.path == "/private" and req.headers["X-Token"] ~= "t0k" then return "no", 401 end
end)

app:after_request(function(req, res)
  if req.path == "/track" then stats.after = stats.after + 1 end
  return res
end)

app:get("/echo", with_websocket(function(req, ws)
  while true do
    local message, binary = ws:receive()
    ws:send(message, binary)
  end
end))

app:get("/private", with_websocket(function(req, ws)
  ws:send("welcome")
end))

-- Counts handlers that ended (a to-be-closed variable: however they end).
app:get("/track", with_websocket(function(req, ws)
  local _ <close> = setmetatable({}, { __close = function() stats.ended = stats.ended + 1 end })
  while true do ws:send(ws:receive()) end
end))

app:get("/stats", function(req)
  stats.served = stats.served + 1
  return stats
end)

-- A limit of its own, and the manual upgrade.
app:get("/small", function(req)
  local ws = websocket.WebSocket(req)
  ws.max_message_length = 1024
  ws:handshake()
  while true do ws:send(ws:receive()) end
end)

app:get("/timeout", with_websocket(function(req, ws)
  local message, why = ws:receive(0.2)
  ws:send(tostring(message) .. " " .. tostring(why))
  ws:send(ws:receive(5))
end))

app:get("/fail", with_websocket(function(req, ws)
  ws:receive()
  error("handler failed on purpose")
end))

app:get("/bye", with_websocket(function(req, ws)
  ws:send("bye")
  ws:close(4000, "done here")
  ws:send("never") -- raises: the connection is closed
end))

app:get("/closed-by-client", with_websocket(function(req, ws)
  local ok, err = pcall(ws.receive, ws)
  stats.last_close = { ok = ok, code = err.code, reason = err.reason, closed = ws.closed }
end))

-- Sends what it is told, as fast as the client takes it.
app:get("/flood/<int:count>/<int:size>", with_websocket(function(req, ws, count, size)
  local chunk = string.rep("x", size)
  for _ = 1, count do ws:send(chunk, true) end
  ws:send("end")
  ws:receive()
end))

-- Takes nothing for a while: the client is held back meanwhile.
app:get("/deaf", with_websocket(function(req, ws)
  microdot.sleep(2)
  ws:send("awake")
end))

-- A coroutine the handler spawned closes the socket while the handler waits.
app:get("/spawn-close", with_websocket(function(req, ws)
  microdot.spawn(function()
    microdot.sleep(0.2)
    ws:close(4000, "from spawn")
  end)
  pcall(ws.receive, ws, 5)
end))

-- Three spawned coroutines send at once, three messages each: sends wait
-- their turn while the client is behind.
app:get("/senders/<int:size>", with_websocket(function(req, ws, size)
  local handles = {}
  for i = 1, 3 do
    handles[i] = microdot.spawn(function()
      for j = 1, 3 do ws:send(string.rep(string.char(96 + i), size) .. j) end
    end)
  end
  for i = 1, 3 do handles[i]:wait() end
end))

app:get("/plain", function(req) return "plain" end)

-- A page that echoes through /echo from a browser (test_websocket_browser.py).
app:get("/page", function(req)
  return [[<!doctype html><html><body><script>
window.results = {received: []};
const ws = new WebSocket("ws://" + location.host + "/echo");
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  ws.send("hello from the browser");
  ws.send(new Uint8Array([0, 1, 2, 255]).buffer);
  ws.send("x".repeat(70000));
};
ws.onmessage = (e) => {
  const data = typeof e.data === "string"
    ? (e.data.length > 100 ? "text of " + e.data.length : e.data)
    : "bytes " + Array.from(new Uint8Array(e.data)).join(",");
  window.results.received.push(data);
  if (window.results.received.length === 3) ws.close(1000, "bye");
};
ws.onclose = (e) => { window.results.closed = {code: e.code, clean: e.wasClean}; };
ws.onerror = () => { window.results.error = true; };
</script></body></html>]], { ["Content-Type"] = "text/html" }
end)

return app
