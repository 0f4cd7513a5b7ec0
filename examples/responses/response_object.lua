-- Seed: a Response object with all the details, as a single value.
local microdot = require("microdot")
local Response = microdot.Response
local app = microdot.Microdot()

app:get("/", function(req)
  return Response("<h1>Hello, World!</h1>", 202, {["Content-Type"] = "text/html"}, "Accepted For Later")
end)

return app
