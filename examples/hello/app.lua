-- The smallest app: `make run` serves it on http://127.0.0.1:5000
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  return "Hello, World!"
end)

app:get("/hello/<name>", function(req, name)
  return {greeting = "Hello, " .. name .. "!"}
end)

return app
