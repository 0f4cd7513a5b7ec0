-- Served over HTTPS by TLSTests: the scheme, an echo, a stream and a file.
local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/scheme", function(req) return req.scheme end)
app:post("/echo", function(req) return req.body end)
app:get("/stream", function()
  return coroutine.wrap(function()
    for i = 1, 5 do coroutine.yield("part " .. i .. "\n") end
  end)
end)
app:get("/file", function() return microdot.send_file(os.getenv("MICRODOT_TLS_FILE")) end)
return app
