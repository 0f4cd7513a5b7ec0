local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/", function() return "x" end)
