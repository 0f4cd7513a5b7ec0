-- Routing and return-value rules, one route per rule.
local microdot = require("microdot")
local Response = microdot.Response
local json = microdot.json
local helper = require("modules.helper") -- the script's folder is on package.path
local app = microdot.new()

app:route("/", function(req) return "index" end)
app:route("/items", {"GET", "POST"}, function(req) return req.method .. " items" end)
app:get("/users/<int:id>", function(req, id)
  return {id = id, type = math.type(id), from_args = req.url_args.id}
end)
app:get("/names/<name>", function(req, name) return name end)
app:get("/files/<path:path>", function(req, path) return path end)
app:get("/files/<path:path>/edit", function(req, path) return "never: the route above wins" end)
app:get("/tree/<path:path>/edit", function(req, path) return "edit " .. path end)
app:get("/hex/<re:[0-9a-f]+:value>", function(req, value) return "hex " .. value end)
app:get("/two/<a>/<int:b>", function(req, a, b) return a .. "+" .. tostring(b) end)
microdot.URLPattern.register_type("upper", "[A-Z]+", function(s)
  if s == "NONE" then return nil end
  return s:lower()
end)
app:get("/upper/<upper:word>", function(req, word) return word end)
app:get("/literal/file.txt", function(req) return "literal" end)
app:put("/put", function(req) return "put" end)
app:patch("/patch", function(req) return "patch" end)
app:delete("/delete", function(req) return "delete" end)
app:post("/echo", function(req) return req.body, {["Content-Type"] = "application/octet-stream"} end)
app:get("/same", function(req) return "get same" end)
app:post("/same", function(req) return "post same" end)

-- return values
app:get("/ret/text", function(req) return "text" end)
app:get("/ret/status", function(req) return "text", 202 end)
app:get("/ret/status-headers", function(req) return "text", 202, {["X-One"] = "1", ["Content-Type"] = "text/html"} end)
app:get("/ret/headers", function(req) return "text", {["X-Two"] = 2} end)
app:get("/ret/204", function(req) return 204 end)
app:get("/ret/status-only-headers", function(req) return 201, {["X-Three"] = "3"} end)
app:get("/ret/table", function(req) return {a = 1, list = {1, 2.5, "x"}, empty = json.array(), null = json.null} end)
app:get("/ret/array", function(req) return {1, 2, 3}, 201 end)
app:get("/ret/table-content-type", function(req) return {a = 1}, {["Content-Type"] = "application/vnd.api+json"} end)
app:get("/ret/nil", function(req) return nil end)
app:get("/ret/nothing", function(req) end)
app:get("/ret/response", function(req) return Response("made", 203, {["X-Made"] = "yes"}) end)
app:get("/ret/binary", function(req) return "\0\1\2\255", {["Content-Type"] = "application/octet-stream"} end)
app:get("/ret/multi", function(req) return "multi", {["X-Multi"] = {"a", "b"}} end)
app:get("/ret/reason", function(req) return Response("teapot", 418, nil, "I Am A Teapot") end)
app:get("/ret/empty-response", function(req) return Response() end)
app:get("/ret/helper", function(req) return helper.greet("module") end)

-- A plain string or table return takes the server's fast path (no Response
-- object); each pair must answer with the same bytes.
app:get("/plain/text", function(req) return "text" end)
app:get("/plain/text-response", function(req) return Response("text") end)
app:get("/plain/object", function(req) return {a = 1} end)
app:get("/plain/object-response", function(req) return Response({a = 1}) end)
app:get("/plain/array", function(req) return json.array({1, 2}) end)
app:get("/plain/array-response", function(req) return Response(json.array({1, 2})) end)
app:get("/plain/empty", function(req) return "" end)
app:get("/plain/empty-response", function(req) return Response("") end)
app:get("/plain/status", function(req) return "made", 201 end)
app:get("/plain/status-response", function(req) return Response("made", 201) end)
app:get("/plain/object-status", function(req) return {a = 1}, 202.0 end)
app:get("/plain/object-status-response", function(req) return Response({a = 1}, 202) end)
app:get("/plain/unknown-status", function(req) return "odd", 299 end)
app:get("/plain/unknown-status-response", function(req) return Response("odd", 299) end)
app:get("/plain/not-found", function(req) return "gone", 404 end)
app:get("/plain/not-found-response", function(req) return Response("gone", 404) end)

-- cookies
app:get("/cookies/full", function(req)
  local res = Response("cookies")
  res:set_cookie("a", "1", {path = "/", domain = "example.com", expires = "Thu, 01 Jan 2099 00:00:00 GMT",
    max_age = 60, secure = true, http_only = true, same_site = "Lax", partitioned = true})
  res:set_cookie("b", "2", {expires = 0})
  res:delete_cookie("c", {path = "/x"})
  return res
end)
app:get("/cookies/bad", function(req)
  local res = Response("x")
  res:set_cookie("a", "1;2")
  return res
end)
app:get("/cookies/crlf", function(req)
  local res = Response("x")
  res:set_cookie("a", "1", {path = "/\r\nX-Injected: 1"})
  return res
end)

-- errors and header safety
app:get("/error", function(req) error("boom from the handler") end)
app:get("/header-crlf", function(req) return "x", {["X-Bad"] = "a\r\nX-Injected: 1"} end)
app:get("/header-name", function(req) return "x", {["Bad Name"] = "a"} end)
app:get("/redirect-crlf", function(req) return microdot.redirect("/a\r\nX-Injected: 1") end)
app:get("/redirect-301", function(req) return microdot.redirect("/moved", 301) end)
app:get("/json-error", function(req) local t = {}; t.self = t; return t end)
app:get("/json-nan", function(req) return {x = 0/0} end)
app:get("/json-key", function(req) return {[true] = 1} end)
app:get("/stream-error", function(req)
  return coroutine.wrap(function()
    coroutine.yield("first\n")
    error("stream broke")
  end)
end)
app:get("/stream-thread", function(req)
  return coroutine.create(function()
    for i = 1, 3 do coroutine.yield("t" .. i) end
    return "ignored"
  end)
end)
app:get("/stream-function", function(req)
  local i = 0
  return function()
    i = i + 1
    if i <= 3 then return "f" .. i end
  end
end)
app:get("/sleep", function(req)
  return coroutine.wrap(function()
    coroutine.yield("a")
    microdot.sleep(0.01)
    coroutine.yield("b")
  end)
end)
app:get("/sleep-handler", function(req)
  microdot.sleep(0.01)
  return "slept"
end)

-- send_file variants
app:get("/file/compressed", function(req) return microdot.send_file("files/data.json.gz", {compressed = true}) end)
app:get("/file/compressed-br", function(req) return microdot.send_file("files/data.json.gz", {compressed = "br"}) end)
app:get("/file/extension", function(req) return microdot.send_file("files/data.json", {file_extension = ".gz"}) end)
app:get("/file/typed", function(req) return microdot.send_file("files/plain", {content_type = "text/x-custom", status_code = 203}) end)
app:get("/file/unknown", function(req) return microdot.send_file("files/plain") end)
app:get("/file/types-map", function(req)
  Response.types_map.lua = "text/x-lua"
  return microdot.send_file("routes.lua")
end)
app:get("/file/missing-caught", function(req)
  local ok = pcall(microdot.send_file, "files/nope")
  return ok and "found?" or "caught", 404
end)

return app
