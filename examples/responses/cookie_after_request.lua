-- Seed: set a cookie from a request-specific after-request handler.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req)
  req:after_request(function(req, res)
    res:set_cookie("name", "value")
    return res
  end)
  return "Hello, World!"
end)

return app
