-- The twin of templates_app.py with etlua templates; --reload is tested on
-- a copy of it.
local microdot = require("microdot")
local Template = require("microdot.template").Template

local app = microdot.Microdot()
Template.initialize({template_dir = "templates"})
local served = 0   -- module-level state, kept while templates are recompiled

app:get("/hello", function(req)
  local name = req.args.name
  return Template("hello.html"):render({name = name})
end)

app:get("/html", function(req)
  local name = req.args.name
  return Template("hello.html"):render({name = name}), {["Content-Type"] = "text/html"}
end)

app:get("/rows/<int:n>", function(req, n)
  return Template("rows.html"):generate({n = n})
end)

app:get("/name", function(req)
  return Template("hello.html").name
end)

app:get("/served", function(req)
  served = served + 1
  return tostring(served)
end)

return app
