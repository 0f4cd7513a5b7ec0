-- Seed: a streaming response; each yielded string is one chunk.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/fibonacci", function(req)
  return coroutine.wrap(function()
    local a, b = 0, 1
    while a < 100 do
      coroutine.yield(a .. "\n")
      a, b = b, a + b
    end
  end)
end)

return app
