-- Seed: "The first and most important value is the response body"
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return "Hello, World!"
end)

return app
