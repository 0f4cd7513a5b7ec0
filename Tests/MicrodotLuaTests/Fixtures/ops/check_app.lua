local microdot = require("microdot")
local Template = require("microdot.template").Template
local app = microdot.Microdot()
app:get("/", function(req) return Template("page.html"):render({ title = "x" }) end)
app:get("/list", function(req) return Template("pages/list.html"):render({ items = {} }) end)
return app
