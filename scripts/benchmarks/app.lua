-- The benchmark routes, for microdot-lua (the same as app.py and nginx.conf).
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/", function(req) return "Hello, World!" end)

app:get("/json", function(req)
  return {message = "Hello, World!", id = 42, tags = {"a", "b"}}
end)

app:get("/params/<int:id>", function(req, id)
  return {id = id}
end)

local chunk = string.rep("x", 1024)
app:get("/stream", function(req)
  local sent = 0
  return function()
    sent = sent + 1
    if sent <= 10 then return chunk end
  end
end)

local file = os.getenv("BENCH_FILE") or "data.bin"
app:get("/file", function(req)
  return microdot.send_file(file, {content_type = "application/octet-stream"})
end)

app:post("/echo", function(req)
  return req.json
end)

-- One Redis GET per request (scripts/bench starts a private redis-server
-- and passes its URL in BENCH_REDIS; without it the route is not served).
local redis_url = os.getenv("BENCH_REDIS")
if redis_url then
  local cache = require("microdot.redis").connect(redis_url, {pool_size = 64})
  app:get("/redis", function(req)
    return cache:get("bench:key")
  end)
end

return app
