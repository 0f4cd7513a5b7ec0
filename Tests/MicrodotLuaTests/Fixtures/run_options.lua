local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/", function(req) return "ran" end)
app:run{host = "127.0.0.1", port = 0, workers = 1, debug = true}
