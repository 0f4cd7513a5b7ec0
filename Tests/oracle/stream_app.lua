-- The same routes as stream_app.py, for the Microdot comparison of
-- streamed request bodies (Microdot's test_request stream case).
local microdot = require("microdot")
microdot.Request.max_content_length = 32
microdot.Request.max_body_length = 16
local app = microdot.Microdot()

app:post("/stream", function(req)
  local parts, got = {}, 0
  while got < req.content_length do
    local chunk = req.stream:read(req.content_length - got)
    if chunk == nil then break end
    parts[#parts + 1] = chunk
    got = got + #chunk
  end
  return {body = req.body, stream = table.concat(parts), length = req.content_length}
end)

app:post("/lines", function(req)
  local first = req.stream:readexactly(4)
  local one, two = req.stream:readline(), req.stream:readline()
  return {first = first, lines = {one, two}, body = req.body}
end)

return app
