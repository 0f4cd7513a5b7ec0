-- Seed: set a cookie on a Response object made in the route.
local microdot = require("microdot")
local Response = microdot.Response
local app = microdot.Microdot()

app:get("/", function(req)
  local res = Response("Hello, World!")
  res:set_cookie("name", "value")
  return res
end)

return app
