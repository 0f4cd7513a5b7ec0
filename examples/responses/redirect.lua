-- Seed: redirect() builds a redirect response.
local microdot = require("microdot")
local redirect = microdot.redirect
local app = microdot.Microdot()

app:get("/", function(req)
  return redirect("/about")
end)

return app
