-- Seed: a status code as the second value overrides the 200 default.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return "Hello, World!", 202
end)

return app
