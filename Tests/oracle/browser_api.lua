-- The API a browser page on another origin calls (test_browser.py): CORS
-- with credentials for that origin (PAGE_ORIGIN), a cookie, and events.
local microdot = require("microdot")
local CORS = require("microdot.cors").CORS
local with_sse = require("microdot.sse").with_sse

local app = microdot.Microdot()
CORS(app, {allowed_origins = {assert(os.getenv("PAGE_ORIGIN"), "PAGE_ORIGIN is not set")},
  allow_credentials = true, allowed_headers = {"Content-Type", "X-Token"}, expose_headers = {"X-Total"},
  max_age = 0})

-- OPTIONS requests are answered before routing (no hook runs): count them
-- in the options handler CORS installed.
local cors_options = app.options_handler
app.options_handler = function(req)
  microdot.shared:incr("requests:OPTIONS", 1, 0)
  return cors_options(req)
end

app:post("/login", function(req)
  local res = microdot.Response({user = req.json.user, token = req.headers["X-Token"]})
  res:set_cookie("user", req.json.user, {http_only = true, path = "/"})
  return res
end)

app:get("/whoami", function(req)
  return {user = req.cookies.user or microdot.json.null}, {["X-Total"] = "42"}
end)

app:get("/events", with_sse(function(req, sse)
  sse:send({n = 1}, {event = "reading", event_id = "a1"})
  microdot.sleep(0.1)
  sse:send("two\nlines", {event = "note", event_id = "a2"})
  microdot.sleep(0.1)
  sse:send("done", {event = "end", event_id = "a3", retry = 60})
  microdot.sleep(30)   -- the browser closes the stream after "end"
end))

app:get("/stats", function(req)
  return {options = microdot.shared:get("requests:OPTIONS") or 0}
end)

return app
