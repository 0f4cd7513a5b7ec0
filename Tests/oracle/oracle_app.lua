-- The same routes as oracle_app.py, for the Microdot comparison.
local microdot = require("microdot")
local Response, abort, redirect, send_file = microdot.Response, microdot.abort, microdot.redirect, microdot.send_file
local app = microdot.Microdot()

app:get("/", function(req) return "Hello, World!" end)
app:get("/status", function(req) return "Hello, World!", 202 end)
app:get("/headers", function(req) return "<h1>Hello, World!</h1>", 202, {["Content-Type"] = "text/html"} end)
app:get("/s204", function(req) return 204 end)
app:get("/status-headers-only", function(req) return 201, {["X-Extra"] = "1"} end)
app:get("/body-headers", function(req) return "<h1>Hello, World!</h1>", {["Content-Type"] = "text/html"} end)
app:get("/none", function(req) return nil end)
app:get("/response", function(req) return Response("made", 203, {["X-Made"] = "yes"}) end)
app:get("/json", function(req)
  return {hello = "world", n = 1, f = 2.5, list = {1, 2, 3}, nested = {a = microdot.json.null, t = true}}
end)
app:get("/list", function(req) return {1, "two", 3.5} end)
app:get("/redirect", function(req) return redirect("/about") end)
app:get("/redirect301", function(req) return redirect("/moved", 301) end)
app:get("/file", function(req) return send_file("static/index.html") end)
app:get("/file-maxage", function(req) return send_file("static/image.jpg", {max_age = 3600}) end)
app:get("/file-gz", function(req) return send_file("static/data.json.gz", {compressed = true}) end)
app:get("/file-ext", function(req)
  return send_file("static/data.json", {file_extension = ".gz", compressed = "gzip"})
end)
app:get("/file-typed", function(req)
  return send_file("static/index.html", {content_type = "text/x-custom", status_code = 203})
end)
app:route("/static/<path:path>", function(req, path)
  if path:find("..", 1, true) then return "Not found", 404 end
  return send_file("static/" .. path, {max_age = 86400})
end)
app:get("/fib", function(req)
  return coroutine.wrap(function()
    local a, b = 0, 1
    while a < 100 do
      coroutine.yield(a .. "\n")
      a, b = b, a + b
    end
  end)
end)
app:get("/cookie-after", function(req)
  req:after_request(function(req, res)
    res:set_cookie("name", "value")
    return res
  end)
  return "Hello, World!"
end)
app:get("/cookie-response", function(req)
  local res = Response("Hello, World!")
  res:set_cookie("name", "value")
  return res
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
