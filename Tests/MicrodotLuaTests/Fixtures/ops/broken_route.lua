local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/", function(req) return "ok" end)
app:get("/bad/<re:(a:x>", function(req) return "never" end)
return app
