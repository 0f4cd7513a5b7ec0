local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/", function(req)
  return "unclosed"
-- missing end
return app
