-- The app of test_observability.py: --access-log and --metrics.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/u/<int:id>", function(_, id) return "user " .. id end)
app:post("/u/<int:id>", function(_, id) return "posted " .. id, 201 end)
app:get("/rid", function(req) return req.request_id end)
app:get("/fail", function() error("planned failure") end)
app:get("/sleep", function()
  microdot.sleep(1.5)
  return "slept"
end)
app:get("/stream", function()
  local i = 0
  return function()
    i = i + 1
    if i <= 3 then return "chunk" .. i end
  end
end)

local api = microdot.Microdot()
api:get("/items/<name>", function(_, name) return { item = name } end)
app:mount(api, "/api")

return app
