-- request_app.lua through microdot.test_client: run by `microdot-lua --test`.
local microdot = require("microdot")
local spec = require("modules.spec")
local test, eq = spec.test, spec.eq

local app = require("request_app")
local client = microdot.test_client(app)

local function multipart(boundary, parts)
  local out = {}
  for _, part in ipairs(parts) do
    out[#out + 1] = "--" .. boundary .. "\r\n"
    local disposition = 'Content-Disposition: form-data; name="' .. part.name .. '"'
    if part.filename then disposition = disposition .. '; filename="' .. part.filename .. '"' end
    out[#out + 1] = disposition .. "\r\n"
    if part.content_type then out[#out + 1] = "Content-Type: " .. part.content_type .. "\r\n" end
    out[#out + 1] = "\r\n" .. part.value .. "\r\n"
  end
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return table.concat(out)
end

test("request attributes", function()
  local res = client:post("/inspect/caf%C3%A9?x=1&y=2", {
    body = "hello", headers = {["Content-Type"] = "text/plain", ["X-Test"] = "t"},
  })
  eq(res.status_code, 200, "status")
  eq(res.json, {
    method = "POST", url = "/inspect/caf%C3%A9?x=1&y=2", path = "/inspect/café", query_string = "x=1&y=2",
    http_version = "1.1", scheme = "http", client_host = "127.0.0.1", client_port_type = "integer",
    content_length = 5, content_type = "text/plain", body = "hello", url_args = {name = "café"},
    url_prefix = "", name = "café", same_app = true, header = "t", header_upper = "t",
  }, "attributes")
end)

test("a request without a body or query", function()
  local json = client:get("/inspect/x").json
  eq(json.query_string, microdot.json.null, "query_string")
  eq(json.body, "", "body")
  eq(json.content_length, 0, "content_length")
  eq(json.content_type, microdot.json.null, "content_type")
end)

test("every method reaches the route", function()
  for _, method in ipairs({"get", "post", "put", "patch", "delete"}) do
    eq(client[method](client, "/inspect/m").json.method, method:upper(), method)
  end
end)

test("HEAD runs GET and sends no body", function()
  local res = client:head("/inspect/h")
  eq(res.status_code, 200, "status")
  eq(res.body, "", "body")
  eq(tonumber(res.headers["Content-Length"]) > 0, true, "Content-Length of the GET body")
end)

test("query strings are multi-dicts", function()
  local res = client:get("/args?q=one&q=two&n=42&bad=x&a+b=c%26d&empty")
  eq(res.json, {q = "one", all = {"one", "two"}, n = 42, missing = "default", bad = -1,
    decoded = "c&d", empty = ""}, "args")
  eq(client:get("/args").json.all, {}, "no query: empty list")
end)

test("urlencoded forms", function()
  local res = client:post("/form", {
    body = "name=Ada+Lovelace&tag=a&tag=b%2Fc&age=36",
    headers = {["Content-Type"] = "application/x-www-form-urlencoded"},
  })
  eq(res.json, {name = "Ada Lovelace", tags = {"a", "b/c"}, age = 36, files = false}, "form")
end)

test("no form for other content types", function()
  local res = client:post("/form", {body = "name=x", headers = {["Content-Type"] = "text/plain"}})
  eq(res.json, {form = microdot.json.null}, "form")
end)

test("multipart forms with files", function()
  local body = multipart("XyZ", {
    {name = "title", value = "holiday"},
    {name = "file", filename = "a.txt", content_type = "text/plain", value = "first file"},
    {name = "file", filename = "b.bin", value = "\0\1\2\255\r\n--not-a-boundary"},
  })
  local res = client:post("/upload", {
    body = body, headers = {["Content-Type"] = "multipart/form-data; boundary=XyZ"},
  })
  eq(res.status_code, 200, "status")
  eq(res.json, {title = "holiday", uploads = {
    {filename = "a.txt", content_type = "text/plain", size = 10, hex = "66697273742066696c65"},
    {filename = "b.bin", content_type = "application/octet-stream", size = 22,
      hex = "000102ff0d0a2d2d6e6f742d612d626f756e64617279"},
  }}, "uploads")
end)

test("a multipart form without files has plain fields", function()
  local body = multipart("b1", {{name = "name", value = "x"}, {name = "tag", value = "1"}, {name = "tag", value = "2"}})
  local res = client:post("/form", {body = body, headers = {["Content-Type"] = 'multipart/form-data; boundary="b1"'}})
  eq(res.json, {name = "x", tags = {"1", "2"}, age = 0, files = false}, "form")
end)

test("a malformed multipart body is a 400", function()
  local res = client:post("/upload", {body = "--XyZ\r\nno end", headers = {["Content-Type"] = "multipart/form-data; boundary=XyZ"}})
  eq(res.status_code, 400, "status")
  eq(res.body, "Bad request", "body")
  res = client:post("/upload", {body = "x", headers = {["Content-Type"] = "multipart/form-data"}})
  eq(res.status_code, 400, "no boundary")
end)

test("JSON bodies", function()
  local res = client:post("/json", {json = {a = 1, list = {1, 2}}})
  eq(res.json, {got = {a = 1, list = {1, 2}}, kind = "table"}, "object")
  res = client:post("/json", {body = "[1,2]", headers = {["Content-Type"] = "application/json; charset=utf-8"}})
  eq(res.json.got, {1, 2}, "array with a charset")
  res = client:post("/json", {body = "{}", headers = {["Content-Type"] = "text/plain"}})
  eq(res.json.kind, "none", "not JSON without the content type")
end)

test("malformed JSON is a 400, not a 500", function()
  local res = client:post("/json", {body = "{oops", headers = {["Content-Type"] = "application/json"}})
  eq(res.status_code, 400, "status")
  eq(res.body, "Bad request", "body")
  eq(res.headers["X-After-Error"], "400", "after_error_request ran")
end)

test("cookies are read and the client keeps them", function()
  local fresh = microdot.test_client(app, {cookies = {given = "1"}})
  eq(fresh:get("/cookies", {headers = {Cookie = "a=1; b = two ; flag"}}).json,
    {a = "1", b = "two", flag = "", given = "1"}, "parsed")
  local res = fresh:get("/set-cookies")
  eq(res.headers["Set-Cookie"], {"session=abc; Path=/", "theme=dark"}, "Set-Cookie lines")
  eq(fresh:get("/cookies").json, {given = "1", session = "abc", theme = "dark"}, "jar after set")
  fresh:get("/clear-cookie")
  eq(fresh:get("/cookies").json, {given = "1", theme = "dark"}, "jar after delete")
end)

test("404 through the app's error handler", function()
  local res = client:get("/nowhere")
  eq(res.status_code, 404, "status")
  eq(res.json, {error = "not here", path = "/nowhere"}, "handler body")
  eq(res.headers["X-After-Error"], "404", "after_error_request ran")
end)

test("405 lists the allowed methods", function()
  local res = client:post("/only-get")
  eq(res.status_code, 405, "status")
  eq(res.body, "Method not allowed", "body")
  eq(res.headers["Allow"], "GET, HEAD, OPTIONS", "Allow")
end)

test("OPTIONS answers Allow", function()
  local res = client:options("/inspect/x")
  eq(res.status_code, 200, "status")
  eq(res.headers["Allow"], "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS", "Allow")
end)

test("413 when the body is over max_content_length", function()
  local res = client:post("/inspect/big", {body = string.rep("x", 64 * 1024 + 1)})
  eq(res.status_code, 413, "status")
  eq(res.body, "Payload too large", "body")
  res = client:post("/inspect/fits", {body = string.rep("x", 64 * 1024)})
  eq(res.status_code, 200, "at the limit")
end)

test("before_request can answer instead of the route", function()
  local res = client:get("/trail", {headers = {["X-Deny"] = "1"}})
  eq(res.status_code, 403, "status")
  eq(res.body, "denied", "body")
  eq(res.headers["X-After"], "yes", "after_request still runs")
end)

test("req.g carries values from hooks to routes", function()
  eq(client:get("/g", {headers = {["X-User"] = "ada"}}).json, {user = "ada"}, "g")
  eq(client:get("/g").json, {user = microdot.json.null}, "g is per request")
end)

test("hooks run in Microdot's order", function()
  local res = client:get("/trail")
  eq(res.headers["X-Trail"], "app-before,admin-before,route,app-after", "app route")
  eq(res.headers["X-After"], "yes", "after_request")
  eq(res.headers["X-After-Error"], nil, "no after_error_request on success")
end)

test("req:after_request can replace the response", function()
  local res = client:get("/replace")
  eq(res.status_code, 202, "status")
  eq(res.body, "replaced by the request's hook", "body")
end)

test("error classes match through __index inheritance", function()
  local res = client:get("/raise/field")
  eq(res.status_code, 422, "subclass")
  eq(res.json, {invalid = "email"}, "subclass body")
  eq(client:get("/raise/validation").json, {invalid = "name"}, "the class itself")
  res = client:get("/raise/other")
  eq(res.status_code, 500, "a table with no class")
  eq(res.body, "Internal server error", "500 body")
  eq(client:get("/raise/string").status_code, 500, "a string error")
end)

test("abort with and without a reason", function()
  local res = client:get("/abort/418")
  eq(res.status_code, 418, "status")
  eq(res.body, "418 error", "default reason")
  eq(res.headers["X-After-Error"], "418", "after_error_request ran")
  res = client:get("/abort-reason")
  eq(res.status_code, 406, "status")
  eq(res.body, "Not acceptable here", "reason")
  eq(client:get("/abort-404").json, {error = "not here", path = "/abort-404"}, "abort goes through error handlers")
end)

test("a mounted app with local hooks", function()
  local res = client:get("/api/items/5")
  eq(res.json, {id = 5, url_prefix = "/api", path = "/api/items/5"}, "route")
  eq(res.headers["X-Trail"], "app-before,admin-before,api-before,route,api-after,app-after", "hook order")
  res = client:get("/api/items/0")
  eq(res.status_code, 404, "local 404")
  eq(res.body, "api: no such item", "the subapp's own 404 handler")
  eq(client:get("/api/items/1").body, "api conflict", "local 409 handler")
  eq(client:get("/conflict").body, "409 error", "local handlers stay local")
  eq(client:post("/api/items/5").status_code, 405, "405 in a subapp")
end)

test("a mounted app that shares its hooks and handlers", function()
  local res = client:get("/admin/panel", {headers = {["X-Admin"] = "yes"}})
  eq(res.json, {url_prefix = "/admin"}, "route")
  eq(res.headers["X-Trail"], "app-before,admin-before,route,app-after", "hook order")
  res = client:get("/admin/panel")
  eq(res.status_code, 401, "status")
  eq(res.body, "admin only", "the shared 401 handler")
  eq(client:get("/needs-login").body, "admin only", "applies to the whole app")
end)

spec.run()
