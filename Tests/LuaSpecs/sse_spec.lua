-- microdot.sse in process: framing, test client events, errors. Timing
-- and disconnects are tested on a socket (Tests/oracle/test_oracle_sse.py).
local microdot = require("microdot")
local sse_module = require("microdot.sse")
local with_sse, sse_response = sse_module.with_sse, sse_module.sse_response
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

local app = microdot.Microdot()
local closed = {}
app:get("/sse", with_sse(function(req, sse)
  sse:send("foo")
  sse:send("bar", {event = "test"})
  sse:send({foo = "bar"})
  sse:send({42, "foo", "bar"})
  sse:send(12.5)
  sse:send(true)
end))
app:get("/fields", with_sse(function(req, sse)
  sse:send("a", {event = "e", event_id = "7", retry = 2.5})
  sse:send("b", {event = "", event_id = false, retry = 0})
  sse:send("keepalive", {comment = true, event = "ignored"})
  sse:send("line1\nline2\r\nline3")
  sse:send(3, {event_id = 9})
end))
app:get("/args/<int:n>", with_sse(function(req, sse, n)
  for i = 1, n do
    microdot.sleep(0.001)
    local inner = coroutine.wrap(function() sse:send(i) end)   -- sends from a nested coroutine
    inner()
  end
end))
app:get("/closing", with_sse(function(req, sse)
  local _ <close> = setmetatable({}, {__close = function() closed[#closed + 1] = "closed" end})
  sse:send("one")
end))
app:get("/bad/<what>", with_sse(function(req, sse, what)
  sse:send("before")
  if what == "nil" then sse:send(nil) end
  if what == "event" then sse:send("x", {event = "a\nb"}) end
  if what == "id" then sse:send("x", {event_id = "a\rb"}) end
  if what == "option" then sse:send("x", {evnt = "a"}) end
  if what == "error" then error("handler broke") end
  if what == "yield" then coroutine.yield("raw") end
end))
app:get("/low", function(req)
  return sse_response(req, function(_, sse, a, b) sse:send(a .. b) end, "x", "y")
end)
app:after_request(function(req, res) res.headers["X-Hook"] = "1" end)
local client = microdot.test_client(app)

describe("SSE", function()
  it("streams Microdot's test_sse events", function()
    local res = client:get("/sse")
    eq(res.status_code, 200)
    eq(res.headers["Content-Type"], "text/event-stream")
    eq(res.headers["X-Hook"], "1")
    eq(res.text, 'data: foo\n\nevent: test\ndata: bar\n\ndata: {"foo":"bar"}\n\n'
      .. 'data: [42,"foo","bar"]\n\ndata: 12.5\n\ndata: true\n\n')
    eq(#res.events, 6)
    eq(res.events[2].event, "test")
    eq(res.events[3].data_json, {foo = "bar"})
    eq(res.events[5].data_json, 12.5)
  end)
  it("writes retry, event, id, comments and multi-line data", function()
    local res = client:get("/fields")
    eq(res.text, "retry: 2500\nevent: e\nid: 7\ndata: a\n\ndata: b\n\n: keepalive\n\n"
      .. "data: line1\ndata: line2\ndata: line3\n\nid: 9\ndata: 3\n\n")
    local events = res.events
    eq(#events, 4)
    eq(events[1], {data = "a", event = "e", event_id = "7", retry = 2.5})
    eq(events[3].data, "line1\nline2\nline3")
    eq(events[4].event_id, "9")
    eq(events[4].data_json, 3)
  end)
  it("passes URL arguments after sse and sends from nested coroutines", function()
    local res = client:get("/args/3")
    eq(res.text, "data: 1\n\ndata: 2\n\ndata: 3\n\n")
  end)
  it("closes the handler's to-be-closed variables when it ends", function()
    closed = {}
    eq(client:get("/closing").text, "data: one\n\n")
    eq(closed, {"closed"})
  end)
  it("sends the head only to HEAD, without running the handler", function()
    closed = {}
    local res = client:head("/closing")
    eq(res.status_code, 200)
    eq(res.body, "")
    eq(closed, {})
  end)
  it("cuts the stream on an error, naming its line", function()
    for _, what in ipairs({"nil", "event", "id", "option", "error", "yield"}) do
      local res = client:get("/bad/" .. what)
      eq(res.status_code, 200, what)
      eq(res.text, "data: before\n\n", what)
      assert(res.stream_error ~= nil, what .. ": no stream error")
      assert(res.stream_error:find("^[^\n]*sse_spec.lua:%d+:") or what == "yield", what .. ": " .. res.stream_error)
    end
    assert(client:get("/bad/nil").stream_error:find("data cannot be nil", 1, true))
    assert(client:get("/bad/event").stream_error:find("line break", 1, true))
    assert(client:get("/bad/option").stream_error:find("unknown option 'evnt'", 1, true))
  end)
  it("sse_response passes extra arguments", function()
    eq(client:get("/low").text, "data: xy\n\n")
  end)
  it("has no events for other content types", function()
    local other = microdot.Microdot()
    other:get("/", function() return "data: x\n\n" end)
    eq(microdot.test_client(other):get("/").events, nil)
  end)
  it("format_event is the framing", function()
    eq(sse_module.format_event("x", {retry = 0.0015}), "retry: 1\ndata: x\n\n")
    eq(select(2, pcall(with_sse, 1)):find("expects a function", 1, true) ~= nil, true)
  end)
end)

runner.run()
