-- Server-sent events: a page that shows a live counter. Open
-- http://127.0.0.1:5000/ after  microdot-lua examples/events/app.lua
local microdot = require("microdot")
local with_sse = require("microdot.sse").with_sse

local app = microdot.Microdot()

local PAGE = [[<!doctype html>
<title>events</title>
<p>Count: <span id="count">-</span> <span id="state"></span></p>
<script>
  const source = new EventSource("/events?from=1&to=10");
  source.addEventListener("count", (e) => {
    document.getElementById("count").textContent = JSON.parse(e.data).n;
  });
  source.addEventListener("done", () => {
    document.getElementById("state").textContent = "(done)";
    source.close();
  });
</script>
]]

app:get("/", function(req)
  return PAGE, {["Content-Type"] = "text/html"}
end)

-- One event a second; a client that leaves ends the loop (the sleep raises
-- and the coroutine is closed).
app:get("/events", with_sse(function(req, sse)
  local from = req.args:get("from", 1, tonumber)
  local to = req.args:get("to", 10, tonumber)
  for n = from, to do
    sse:send({n = n}, {event = "count", event_id = tostring(n)})
    microdot.sleep(1)
  end
  sse:send("bye", {event = "done"})
end))

return app
