local microdot = require("microdot")
local app = microdot.Microdot()
local settings = nil
local port = settings.port  -- luacheck: ignore (the error this fixture exists for)
return app
