-- Seed: a table as the first value is sent as JSON.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return {hello = "world"}
end)

return app
