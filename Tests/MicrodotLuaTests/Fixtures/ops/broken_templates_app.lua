local microdot = require("microdot")
local Template = require("microdot.template").Template
Template.initialize({ template_dir = "broken_templates" })
local app = microdot.Microdot()
app:get("/", function(req) return "ok" end)
return app
