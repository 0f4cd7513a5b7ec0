-- Seed: a route that serves the files of a static folder.
local microdot = require("microdot")
local send_file = microdot.send_file
local app = microdot.Microdot()

app:route("/static/<path:path>", function(req, path)
  if path:find("..", 1, true) then
    -- directory traversal is not allowed
    return "Not found", 404
  end
  return send_file("static/" .. path, {max_age = 86400})
end)

return app
