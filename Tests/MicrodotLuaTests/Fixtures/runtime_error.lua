local microdot = require("microdot")
local app = microdot.Microdot()
local settings = nil
local port = settings.port
return app
