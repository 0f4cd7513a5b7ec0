-- Seed: change the content type of responses that do not set one.
local microdot = require("microdot")
local Response = microdot.Response
local app = microdot.Microdot()

Response.default_content_type = "text/html"

app:get("/", function(req)
  return "<h1>Hello, World!</h1>"
end)

return app
