-- Seed: a body and headers, keeping the default 200 status.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return "<h1>Hello, World!</h1>", {["Content-Type"] = "text/html"}
end)

return app
