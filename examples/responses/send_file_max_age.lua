-- Seed: a suggested caching duration, in seconds, with max_age.
local microdot = require("microdot")
local send_file = microdot.send_file
local app = microdot.Microdot()

app:get("/", function(req)
  return send_file("static/image.jpg", {max_age = 3600})
end)

return app
