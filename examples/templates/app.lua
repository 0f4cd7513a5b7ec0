-- HTML pages from templates, with a form CSRF protects.
--   microdot-lua examples/templates/app.lua   (then http://127.0.0.1:5000/)
local microdot = require("microdot")
local Template = require("microdot.template").Template
local CSRF = require("microdot.csrf").CSRF

local app = microdot.Microdot()
CSRF(app)   -- a POST from another site is refused (403)
local HTML = {["Content-Type"] = "text/html; charset=UTF-8"}

local guests = {}

app:get("/", function(req)
  return Template("index.html"):render({title = "Guest book", guests = guests}), HTML
end)

app:post("/sign", function(req)
  local name = req.form and req.form.name or ""
  if name ~= "" then guests[#guests + 1] = {name = name, at = os.date("!%Y-%m-%d")} end
  return microdot.redirect("/")
end)

-- A long page streamed as it renders.
app:get("/all", function(req)
  return Template("index.html"):generate({title = "Everyone", guests = guests}), HTML
end)

return app
