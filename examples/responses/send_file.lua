-- Seed: send_file() builds a response from a file. Relative paths resolve
-- against this script's folder.
local microdot = require("microdot")
local send_file = microdot.send_file
local app = microdot.Microdot()

app:get("/", function(req)
  return send_file("static/index.html")
end)

return app
