-- microdot.websocket in process, through the Lua test client
-- (client:websocket): handshake checks, messages, closes, errors, hooks.
-- Frames, timing and real clients are tested on a socket
-- (Tests/oracle/test_websocket.py).
local microdot = require("microdot")
local websocket = require("microdot.websocket")
local with_websocket, WebSocketError = websocket.with_websocket, websocket.WebSocketError
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

local app = microdot.Microdot()
local log = {}

app:before_request(function(req)
  if req.path == "/private" and req.headers["X-Token"] ~= "t0k" then return "no", 401 end
end)
app:after_request(function(req, res)
  if req.path:find("^/ws") then log[#log + 1] = "after " .. req.path end
end)

app:get("/ws/echo", with_websocket(function(req, ws)
  while true do
    local message, binary = ws:receive()
    ws:send(message, binary)
  end
end))
app:get("/private", with_websocket(function(req, ws) ws:send("welcome") end))
app:get("/ws/args/<int:n>", with_websocket(function(req, ws, n)
  for i = 1, n do ws:send(tostring(i)) end
end))
app:get("/ws/nested", with_websocket(function(req, ws)
  -- a receive from a nested coroutine goes up to the host as well
  local inner = coroutine.wrap(function() return ws:receive() end)
  ws:send("got " .. inner())
end))
app:get("/ws/client-close", with_websocket(function(req, ws)
  local ok, err = pcall(ws.receive, ws)
  log[#log + 1] = { ok = ok, code = err.code, reason = err.reason, is_error = getmetatable(err) == WebSocketError,
    closed = ws.closed }
end))
app:get("/ws/fail", with_websocket(function(req, ws)
  ws:receive()
  error("on purpose")
end))
app:get("/ws/bye", with_websocket(function(req, ws)
  ws:close(4000, "done")
  log[#log + 1] = "closed " .. tostring(ws.closed)
  local ok, err = pcall(ws.send, ws, "late")
  log[#log + 1] = ok and "sent" or ("send after close: " .. err.code)
end))
app:get("/ws/checks", with_websocket(function(req, ws)
  local results = {}
  for _, case in ipairs({
    function() ws:send("\255") end,
    function() ws:send({}) end,
    function() ws:close(1005) end,
    function() ws:close(1000, string.rep("r", 124)) end,
    function() ws:close(nil, "reason") end,
    function() ws:receive(-1) end,
    function() ws.receive() end,
  }) do
    local ok, err = pcall(case)
    results[#results + 1] = ok and "ok" or tostring(err):gsub("^[^:]+:%d+: ", "")
  end
  ws:send(microdot.json.encode(results))
end))
app:get("/ws/manual", function(req)
  local ws = websocket.websocket_upgrade(req)
  ws:send("manual")
end)
app:get("/plain", function(req) return "plain" end)

local client = microdot.test_client(app)

describe("handshake", function()
  it("answers 101 with the accept key of RFC 6455 section 1.3", function()
    local res = client:websocket("/ws/echo", function(ws) end)
    eq(res.status_code, 101)
    eq(res.headers["Sec-WebSocket-Accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    eq(res.headers["Upgrade"], "websocket")
    eq(res.headers["Connection"], "Upgrade")
  end)
  it("answers 400 to a request that is not a handshake", function()
    for _, headers in ipairs({
      { Connection = "keep-alive" }, { Upgrade = "h2c" }, { ["Sec-WebSocket-Key"] = "" },
    }) do
      local called = false
      local res = client:websocket("/ws/echo", function() called = true end, { headers = headers })
      eq(res.status_code, 400)
      eq(res.text, "400 error")
      eq(called, false)
    end
    eq(client:get("/ws/echo").status_code, 400)
  end)
  it("answers 426 to another version", function()
    local res = client:websocket("/ws/echo", function() end, { headers = { ["Sec-WebSocket-Version"] = "8" } })
    eq(res.status_code, 426)
    eq(res.headers["Sec-WebSocket-Version"], "13")
  end)
  it("runs hooks first", function()
    eq(client:websocket("/private", function() end).status_code, 401)
    local _, got = client:websocket("/private", function(ws) return ws:receive() end,
      { headers = { ["X-Token"] = "t0k" } })
    eq(got, "welcome")
  end)
end)

describe("messages", function()
  it("echoes text and binary", function()
    local _, a, b, c, d = client:websocket("/ws/echo", function(ws)
      ws:send("hello")
      local text, binary = ws:receive()
      ws:send("\0\1\255", true)
      local bytes, is_binary = ws:receive()
      return text, binary, bytes, is_binary
    end)
    eq({ a, b, c, d }, { "hello", false, "\0\1\255", true })
  end)
  it("passes URL arguments after ws", function()
    local _, got = client:websocket("/ws/args/3", function(ws)
      return ws:receive() .. ws:receive() .. ws:receive()
    end)
    eq(got, "123")
  end)
  it("receives from a nested coroutine", function()
    local _, got = client:websocket("/ws/nested", function(ws)
      ws:send("x")
      return ws:receive()
    end)
    eq(got, "got x")
  end)
  it("checks what the handler passes", function()
    local _, got = client:websocket("/ws/checks", function(ws) return ws:receive() end)
    local results = microdot.json.decode(got)
    eq(results[1]:find("valid UTF-8", 1, true) ~= nil, true)
    eq(results[2]:find("must be a string", 1, true) ~= nil, true)
    eq(results[3]:find("1000-1003", 1, true) ~= nil, true)
    eq(results[4]:find("123 bytes", 1, true) ~= nil, true)
    eq(results[5]:find("needs a code", 1, true) ~= nil, true)
    eq(results[6]:find("non-negative", 1, true) ~= nil, true)
    eq(results[7]:find("with a dot", 1, true) ~= nil, true)
  end)
  it("closes with 1007 for text that is not UTF-8", function()
    local res = client:websocket("/ws/echo", function(ws)
      ws:send("\255\254")
      local ok, err = pcall(ws.receive, ws)
      return ok, err.code
    end)
    eq(res.websocket.close_code, 1007)
  end)
end)

describe("closing", function()
  it("a client close ends the handler with WebSocketError, answered with its code", function()
    log = {}
    local res = client:websocket("/ws/client-close", function(ws) ws:close(4001, "see you") end)
    eq(res.websocket.close_code, 4001)
    eq(log[1], { ok = false, code = 4001, reason = "see you", is_error = true, closed = true })
    eq(log[2], "after /ws/client-close")
  end)
  it("the end of the handler sends an empty close", function()
    local res, got = client:websocket("/ws/args/1", function(ws)
      local first = ws:receive()
      local ok, err = pcall(ws.receive, ws)
      return { first, ok, err.code }
    end)
    eq(got, { "1", false, 1005 })
    eq(res.websocket.closed, true)
  end)
  it("a handler error closes with 1011", function()
    local res = client:websocket("/ws/fail", function(ws)
      ws:send("go")
      pcall(ws.receive, ws)
    end)
    eq(res.websocket.close_code, 1011)
  end)
  it("ws:close sends its code and reason; sends after it raise", function()
    log = {}
    local res = client:websocket("/ws/bye", function(ws) pcall(ws.receive, ws) end)
    eq({ res.websocket.close_code, res.websocket.close_reason }, { 4000, "done" })
    eq(log[1], "closed true")
    eq(log[2], "send after close: 4000")
  end)
  it("websocket_upgrade upgrades in the handler", function()
    local res, got = client:websocket("/ws/manual", function(ws) return ws:receive() end)
    eq(res.status_code, 101)
    eq(got, "manual")
  end)
  it("WebSocketError has a code and a reason", function()
    local err = WebSocketError(1006, "gone")
    eq({ err.code, err.reason }, { 1006, "gone" })
    eq(tostring(err), "WebSocketError: connection closed (1006): gone")
    eq(websocket.WebSocket.max_message_length, -1)
  end)
end)

runner.run()
