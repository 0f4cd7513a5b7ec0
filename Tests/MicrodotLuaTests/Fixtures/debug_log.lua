local microdot = require("microdot")
local app = microdot.Microdot()
microdot.log.debug("loaded")
app:get("/", function(req)
  microdot.log.debug("in the route")
  return "ok"
end)
return app
