-- The same routes as oracle_app.py, for the Microdot comparison. The seed
-- examples of examples/responses are loaded as they are and mounted, so
-- the oracle checks the very code the README shows.
local microdot = require("microdot")
local Response, abort, redirect, send_file = microdot.Response, microdot.abort, microdot.redirect, microdot.send_file
local app = microdot.Microdot()

-- This script's folder, from its chunk name ("@path/oracle_app.lua").
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local function example(name)
  return dofile(here .. "/../../examples/responses/" .. name .. ".lua")
end

-- Mounted under a prefix, an example's "/" route answers at "<prefix>/".
app:mount(example("body"))                          -- /
app:mount(example("status"), "/status")             -- /status/
app:mount(example("headers"), "/headers")           -- /headers/
app:mount(example("status_only"), "/s204")          -- /s204/
app:mount(example("body_and_headers"), "/body-headers")
app:mount(example("redirect"), "/redirect")
app:mount(example("send_file"), "/file")            -- files resolve against this folder
app:mount(example("send_file_max_age"), "/file-maxage")
app:mount(example("static"))                        -- /static/<path:path>
app:mount(example("fibonacci"))                     -- /fibonacci
app:mount(example("cookie_after_request"), "/cookie-after")
app:mount(example("cookie_response"), "/cookie-response")

app:get("/status-headers-only", function(req) return 201, {["X-Extra"] = "1"} end)
app:get("/none", function(req) return nil end)
app:get("/response", function(req) return Response("made", 203, {["X-Made"] = "yes"}) end)
app:get("/json", function(req)
  return {hello = "world", n = 1, f = 2.5, list = {1, 2, 3}, nested = {a = microdot.json.null, t = true}}
end)
app:get("/list", function(req) return {1, "two", 3.5} end)
app:get("/redirect301", function(req) return redirect("/moved", 301) end)
app:get("/file-gz", function(req) return send_file("static/data.json.gz", {compressed = true}) end)
app:get("/file-ext", function(req)
  return send_file("static/data.json", {file_extension = ".gz", compressed = "gzip"})
end)
app:get("/file-typed", function(req)
  return send_file("static/index.html", {content_type = "text/x-custom", status_code = 203})
end)
app:get("/cookie-full", function(req)
  local res = Response("cookies")
  res:set_cookie("a", "1", {path = "/", domain = "example.com", expires = "Thu, 01 Jan 2099 00:00:00 GMT",
    max_age = 60, secure = true, http_only = true, partitioned = true})
  res:set_cookie("b", "2", {path = "/b"})
  res:delete_cookie("c", {path = "/x"})
  return res
end)
app:get("/users/<int:id>", function(req, id) return {id = id} end)
app:get("/names/<name>", function(req, name) return "name " .. name end)
app:get("/re/<re:[a-z]+:word>", function(req, word) return "word " .. word end)
app:get("/error", function(req) error("boom") end)
app:get("/abort", function(req) abort(403) end)
app:get("/abort-reason", function(req) abort(401, "Go away") end)
app:route("/items", {"GET", "POST"}, function(req) return req.method .. " items" end)

return app
