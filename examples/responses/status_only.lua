-- Seed: with no body to send, the status code is the first or only value.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return 204
end)

return app
