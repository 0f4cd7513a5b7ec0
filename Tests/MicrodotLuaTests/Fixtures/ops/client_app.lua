local microdot = require("microdot")
local app = microdot.Microdot()
app:get("/who", function(req)
  return { host = req.client_addr[1], port = req.client_addr[2], scheme = req.scheme }
end)
app:get("/instance", function(req) return os.getenv("MICRODOT_INSTANCE") or "?" end)
return app
