-- Requests, hooks, error handlers and mounted apps: one route per feature.
-- Served over a socket by RequestTests.swift and driven in process by
-- request_spec.lua through microdot.test_client.
local microdot = require("microdot")
local json = microdot.json
local app = microdot.Microdot()

microdot.Request.max_content_length = 64 * 1024

local function list(t)
  return json.array(t)
end

-- Every request attribute, as JSON.
app:route("/inspect/<name>", {"GET", "POST", "PUT", "PATCH", "DELETE"}, function(req, name)
  return {
    method = req.method, url = req.url, path = req.path, query_string = req.query_string or json.null,
    http_version = req.http_version, scheme = req.scheme,
    client_host = req.client_addr[1], client_port_type = math.type(req.client_addr[2]),
    content_length = req.content_length, content_type = req.content_type or json.null,
    body = req.body, url_args = req.url_args, url_prefix = req.url_prefix, name = name,
    same_app = req.app == app, header = req.headers["x-test"] or json.null,
    header_upper = req.headers["X-TEST"] or json.null,
  }
end)

app:get("/args", function(req)
  return {
    q = req.args.q or json.null,
    all = list(req.args:getlist("q")),
    n = req.args:get("n", 0, tonumber),
    missing = req.args:get("missing", "default"),
    bad = req.args:get("bad", -1, tonumber),
    decoded = req.args["a b"] or json.null,
    empty = req.args.empty or json.null,
  }
end)

app:post("/form", function(req)
  if req.form == nil then return {form = json.null} end
  return {
    name = req.form.name or json.null,
    tags = list(req.form:getlist("tag")),
    age = req.form:get("age", 0, math.tointeger),
    files = req.files and next(req.files) ~= nil or false,
  }
end)

app:post("/upload", function(req)
  local uploads = {}
  for _, upload in ipairs(req.files:getlist("file")) do
    uploads[#uploads + 1] = {
      filename = upload.filename, content_type = upload.content_type,
      size = upload.size, hex = (upload:read():gsub(".", function(c) return string.format("%02x", c:byte()) end)),
    }
  end
  return {title = req.form.title or json.null, uploads = list(uploads)}
end)

app:post("/json", function(req)
  local value = req.json
  if value == nil then return {got = json.null, kind = "none"} end
  return {got = value, kind = type(value)}
end)

app:get("/cookies", function(req) return req.cookies end)

app:get("/set-cookies", function(req)
  local res = microdot.Response("set")
  res:set_cookie("session", "abc", {path = "/"})
  res:set_cookie("theme", "dark")
  return res
end)

app:get("/clear-cookie", function(req)
  local res = microdot.Response("cleared")
  res:delete_cookie("session", {path = "/"})
  return res
end)

app:get("/only-get", function(req) return "get" end)

app:get("/g", function(req) return {user = req.g.user or json.null} end)

-- Hooks: the app's own before/after hooks, and a per-request one that
-- reports the order every hook ran in.
app:before_request(function(req)
  req.g.trail = {"app-before"}
  req.g.user = req.headers["X-User"]
  req:after_request(function(req, res)
    res.headers["X-Trail"] = table.concat(req.g.trail, ",")
  end)
  if req.headers["X-Deny"] then return "denied", 403 end
end)

app:after_request(function(req, res)
  table.insert(req.g.trail, "app-after")
  res.headers["X-After"] = "yes"
end)

app:after_error_request(function(req, res)
  res.headers["X-After-Error"] = tostring(res.status_code)
end)

app:get("/trail", function(req)
  table.insert(req.g.trail, "route")
  return "trail"
end)

app:get("/replace", function(req)
  req:after_request(function(req, res)
    return microdot.Response("replaced by the request's hook", 202)
  end)
  return "original"
end)

-- Error handlers: by status, and by error class through __index inheritance.
app:errorhandler(404, function(req)
  return {error = "not here", path = req.path}, 404
end)

local ValidationError = {}
ValidationError.__index = ValidationError
local FieldError = setmetatable({}, {__index = ValidationError})
FieldError.__index = FieldError

app:errorhandler(ValidationError, function(req, err)
  return {invalid = err.field}, 422
end)

app:get("/raise/field", function(req)
  error(setmetatable({field = "email"}, FieldError))
end)
app:get("/raise/validation", function(req)
  error(setmetatable({field = "name"}, ValidationError))
end)
app:get("/raise/other", function(req)
  error({field = "unclassed"})
end)
app:get("/raise/string", function(req)
  error("plain failure")
end)

app:get("/abort/<int:code>", function(req, code) microdot.abort(code) end)
app:get("/abort-reason", function(req) microdot.abort(406, "Not acceptable here") end)
app:get("/abort-404", function(req) microdot.abort(404) end)

-- Mounted apps: `api` keeps its hooks and handlers to itself, `admin` shares.
local api = microdot.Microdot()
api:before_request(function(req)
  table.insert(req.g.trail, "api-before")
end)
api:after_request(function(req, res)
  table.insert(req.g.trail, "api-after")
end)
api:errorhandler(404, function(req)
  return "api: no such item", 404
end)
api:errorhandler(409, function(req)
  return "api conflict", 409
end)
api:get("/items/<int:id>", function(req, id)
  table.insert(req.g.trail, "route")
  if id == 0 then microdot.abort(404) end
  if id == 1 then microdot.abort(409) end
  return {id = id, url_prefix = req.url_prefix, path = req.path}
end)
app:mount(api, "/api", {local_hooks = true})

local admin = microdot.Microdot()
admin:before_request(function(req)
  table.insert(req.g.trail, "admin-before") -- shared: runs for every route
end)
admin:errorhandler(401, function(req)
  return "admin only", 401
end)
admin:get("/panel", function(req)
  if req.headers["X-Admin"] ~= "yes" then microdot.abort(401) end
  table.insert(req.g.trail, "route")
  return {url_prefix = req.url_prefix}
end)
app:mount(admin, "/admin")

-- The shared 401 handler now answers for the whole app.
app:get("/needs-login", function(req) microdot.abort(401) end)
-- api's 409 handler is local: the app's own 409 is the default one.
app:get("/conflict", function(req) microdot.abort(409) end)

return app
