-- Seed: a third value adds headers to, or replaces, the default ones.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return "<h1>Hello, World!</h1>", 202, {["Content-Type"] = "text/html"}
end)

return app
