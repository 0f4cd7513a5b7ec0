-- The same routes as requests_app.py, for the Microdot comparison.
local microdot = require("microdot")
local json = microdot.json
local null = json.null
local app = microdot.Microdot()

microdot.Request.max_content_length = 1024
microdot.Request.max_body_length = 1024

local ValidationError = {}
ValidationError.__index = ValidationError
local FieldError = setmetatable({}, {__index = ValidationError})
FieldError.__index = FieldError

app:before_request(function(req)
  req.g.trail = {"app-before"}
  if req.headers["X-Deny"] then return "denied", 403 end
end)

app:after_request(function(req, res)
  table.insert(req.g.trail, "app-after")
  res.headers["X-Trail"] = table.concat(req.g.trail, ",")
  return res
end)

app:after_error_request(function(req, res)
  res.headers["X-After-Error"] = tostring(res.status_code)
  return res
end)

app:errorhandler(404, function(req)
  return {error = "not here", path = req.path}, 404
end)

app:errorhandler(ValidationError, function(req, err)
  return {invalid = err.message}, 422
end)

app:get("/args", function(req)
  return {
    q = req.args.q or null, all = json.array(req.args:getlist("q")), n = req.args:get("n", null, tonumber),
    missing = req.args:get("missing", "default"),
    decoded = req.args["a b"] or null, empty = req.args.empty or null,
  }
end)

app:post("/form", function(req)
  if req.form == nil then return {form = null} end
  return {name = req.form.name or null, tags = json.array(req.form:getlist("tag"))}
end)

app:post("/upload", function(req)
  local file = req.files.file
  local content = file:read()
  return {title = req.form.title, filename = file.filename, content_type = file.content_type,
    size = #content, text = content}
end)

app:post("/json", function(req)
  return {got = req.json or null}
end)

app:get("/cookies", function(req) return req.cookies end)

app:get("/trail", function(req)
  table.insert(req.g.trail, "route")
  return "trail"
end)

app:get("/replace", function(req)
  req:after_request(function(req, res)
    return microdot.Response("replaced", 202)
  end)
  return "original"
end)

app:get("/raise/field", function(req) error(setmetatable({message = "email"}, FieldError)) end)
app:get("/raise/validation", function(req) error(setmetatable({message = "name"}, ValidationError)) end)
app:get("/raise/other", function(req) error("unclassed") end)
app:get("/abort/<int:code>", function(req, code) microdot.abort(code) end)
app:get("/abort-reason", function(req) microdot.abort(406, "Not acceptable here") end)
app:post("/limited", function(req) return "read" end)

local api = microdot.Microdot()
api:before_request(function(req) table.insert(req.g.trail, "api-before") end)
api:after_request(function(req, res)
  table.insert(req.g.trail, "api-after")
  return res
end)
api:errorhandler(404, function(req) return "api: no such item", 404 end)
api:errorhandler(409, function(req) return "api conflict", 409 end)
api:get("/items/<int:id>", function(req, id)
  table.insert(req.g.trail, "route")
  if id == 0 then microdot.abort(404) end
  if id == 1 then microdot.abort(409) end
  return {id = id, url_prefix = req.url_prefix, path = req.path}
end)
app:mount(api, "/api", {local_hooks = true})

local admin = microdot.Microdot()
admin:before_request(function(req) table.insert(req.g.trail, "admin-before") end)
admin:errorhandler(401, function(req) return "admin only", 401 end)
admin:get("/panel", function(req)
  if req.headers["X-Admin"] ~= "yes" then microdot.abort(401) end
  table.insert(req.g.trail, "route")
  return {url_prefix = req.url_prefix}
end)
app:mount(admin, "/admin")

app:get("/needs-login", function(req) microdot.abort(401) end)
app:get("/conflict", function(req) microdot.abort(409) end)

return app
