-- Tests for app.lua:  microdot-lua --test examples/events/test_app.lua
-- (in a test script sleeps end at once, so the stream is read whole).
local microdot = require("microdot")
local app = require("app")
local client = microdot.test_client(app)

local function check(condition, message)
  if not condition then error("check failed: " .. message, 2) end
end

local res = client:get("/")
check(res.text:find("new EventSource", 1, true), "the page subscribes")

res = client:get("/events?from=3&to=5")
check(res.headers["Content-Type"] == "text/event-stream", "an event stream")
local events = res.events
check(#events == 4, "three counts and done, got " .. #events)
check(events[1].event == "count" and events[1].event_id == "3" and events[1].data_json.n == 3, "first count")
check(events[3].data_json.n == 5, "last count")
check(events[4].event == "done" and events[4].data == "bye", "done")
print("examples/events: all checks passed")
