local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/users/<float:id>", function() return "x" end)
return app
